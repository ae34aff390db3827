"""The OCPP 1.6 error codes parkcharge writes in CALLERRORs are the ones the `ocpp` package (and
so the protocol) spells."""

from __future__ import annotations

from ocpp import exceptions

from chalicelib.charging import ocpp


def test_error_codes_match_the_ocpp_package() -> None:
    assert ocpp.NOT_IMPLEMENTED == exceptions.NotImplementedError.code
    assert ocpp.NOT_SUPPORTED == exceptions.NotSupportedError.code
    assert ocpp.INTERNAL_ERROR == exceptions.InternalError.code
    assert ocpp.PROTOCOL_ERROR == exceptions.ProtocolError.code
    assert ocpp.SECURITY_ERROR == exceptions.SecurityError.code
    assert ocpp.FORMATION_VIOLATION == exceptions.FormationViolationError.code
    assert ocpp.PROPERTY_CONSTRAINT_VIOLATION == exceptions.PropertyConstraintViolationError.code
    assert ocpp.OCCURENCE_CONSTRAINT_VIOLATION == exceptions.OccurenceConstraintViolationError.code
    assert ocpp.TYPE_CONSTRAINT_VIOLATION == exceptions.TypeConstraintViolationError.code
    assert ocpp.GENERIC_ERROR == exceptions.GenericError.code

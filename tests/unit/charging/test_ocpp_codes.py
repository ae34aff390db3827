"""The OCPP 1.6 error codes parkcharge writes in CALLERRORs are the ones the `ocpp` package (and
so the protocol) spells."""

from __future__ import annotations

from ocpp import exceptions

from chalicelib.charging import ocpp


def test_error_codes_match_the_ocpp_package() -> None:
    assert exceptions.NotImplementedError.code == ocpp.NOT_IMPLEMENTED
    assert exceptions.NotSupportedError.code == ocpp.NOT_SUPPORTED
    assert exceptions.InternalError.code == ocpp.INTERNAL_ERROR
    assert exceptions.ProtocolError.code == ocpp.PROTOCOL_ERROR
    assert exceptions.SecurityError.code == ocpp.SECURITY_ERROR
    assert exceptions.FormationViolationError.code == ocpp.FORMATION_VIOLATION
    assert exceptions.PropertyConstraintViolationError.code == ocpp.PROPERTY_CONSTRAINT_VIOLATION
    assert exceptions.OccurenceConstraintViolationError.code == ocpp.OCCURENCE_CONSTRAINT_VIOLATION
    assert exceptions.TypeConstraintViolationError.code == ocpp.TYPE_CONSTRAINT_VIOLATION
    assert exceptions.GenericError.code == ocpp.GENERIC_ERROR

"""Fakes and builders shared by the test suites: stand-ins for AWS services that are not our code
(`iot.Recorder` for the IoT data plane), builders of the events the IoT rules hand to the
functions, a charger speaking OCPP frames, and tokens signed with the test keys."""

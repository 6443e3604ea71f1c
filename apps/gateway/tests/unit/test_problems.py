"""Every exception the gateway defines is answered on purpose: from the problem catalogue, as an
authentication failure, as a problem document of its own, or never (handled inside)."""

from __future__ import annotations

import json

from payflow_gateway.domain.errors import (
    AuthFailure,
    Forbidden,
    GatewayError,
    InvalidCredentials,
    InvalidToken,
    NotAuthenticated,
    ServiceUnavailable,
    TokenReused,
)
from payflow_gateway.problems import (
    AUTH_FAILURES_ANSWERED,
    INTERNAL,
    PROBLEMS,
    SELF_ANSWERING,
    auth_failure_response,
    service_unavailable_response,
)
from payflow_service.problems import subclasses


def test_every_gateway_error_has_one_answer() -> None:
    unanswered = [
        kind.__name__
        for kind in subclasses(GatewayError)
        if kind not in PROBLEMS
        and kind not in INTERNAL
        and kind not in SELF_ANSWERING
        and kind not in AUTH_FAILURES_ANSWERED
        and kind is not AuthFailure
    ]
    assert not unanswered, f"add these to problems.py: {unanswered}"


def test_no_class_has_two_answers() -> None:
    answers = [set(PROBLEMS), set(INTERNAL), set(SELF_ANSWERING), set(AUTH_FAILURES_ANSWERED)]
    for i, one in enumerate(answers):
        for other in answers[i + 1 :]:
            assert not one & other


def test_an_unavailable_service_is_a_503_to_retry() -> None:
    answer = service_unavailable_response(ServiceUnavailable("wallet"))
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert json.loads(answer.body)["code"] == "service_unavailable"
    assert {ServiceUnavailable} == SELF_ANSWERING


def test_every_auth_failure_is_a_401_with_a_challenge_or_a_403() -> None:
    failures = [
        NotAuthenticated(),
        InvalidToken("expired_token"),
        TokenReused(),
        InvalidCredentials(),
        Forbidden(),
    ]
    assert {type(f) for f in failures} == AUTH_FAILURES_ANSWERED
    for failure in failures:
        response = auth_failure_response(failure)
        if response.status_code == 401:
            assert response.headers["www-authenticate"].startswith('Bearer realm="payflow"')
        else:
            assert response.status_code == 403

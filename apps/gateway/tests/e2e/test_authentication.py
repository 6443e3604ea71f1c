"""Authentication over HTTP against the gateway process: registration, sessions, API keys, roles."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

pytestmark = pytest.mark.e2e

PROBLEM_JSON = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    if status == 401:
        assert response.headers["www-authenticate"].startswith('Bearer realm="payflow"')
    return body


# ---------------------------------------------------------------- register


async def test_registration_creates_the_user_and_a_default_usd_wallet(users: Any) -> None:
    email = users.new_email()
    response = await users.api.post(
        "/v1/auth/register", json={"email": email, "password": users.password, "name": "Ada"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body["user"]) == {"id", "email", "name", "role", "created_at"}
    assert body["user"]["id"].startswith("usr_")
    assert body["user"]["email"] == email
    assert body["user"]["name"] == "Ada"
    assert body["user"]["role"] == "user"
    wallet = body["wallet"]
    assert wallet["id"].startswith("wal_")
    assert wallet["owner_id"] == body["user"]["id"]
    assert (wallet["currency"], wallet["balance"], wallet["status"]) == ("USD", 0, "active")


async def test_an_email_registers_once_in_any_letter_case(users: Any) -> None:
    _, email = await users.register()
    for again in (email, email.upper()):
        response = await users.api.post(
            "/v1/auth/register", json={"email": again, "password": users.password, "name": "X"}
        )
        assert_problem(response, 409, "email_taken")


async def test_a_password_under_ten_characters_is_refused(users: Any) -> None:
    response = await users.api.post(
        "/v1/auth/register",
        json={"email": users.new_email(), "password": "short-pw", "name": "X"},
    )
    body = assert_problem(response, 422, "validation_error")
    assert [e["loc"] for e in body["errors"]] == ["body.password"]


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "@payflow.dev", "a b@payflow.dev"])
async def test_a_malformed_email_is_refused(users: Any, email: str) -> None:
    response = await users.api.post(
        "/v1/auth/register", json={"email": email, "password": users.password, "name": "X"}
    )
    body = assert_problem(response, 422, "validation_error")
    assert [e["loc"] for e in body["errors"]] == ["body.email"]


async def test_missing_fields_are_each_named(users: Any) -> None:
    response = await users.api.post("/v1/auth/register", json={})
    body = assert_problem(response, 422, "validation_error")
    assert {e["loc"] for e in body["errors"]} == {"body.email", "body.password", "body.name"}
    assert all(e["msg"] for e in body["errors"])


async def test_twenty_concurrent_registrations_of_one_email_create_exactly_one_user(
    users: Any, gateway_db: Any
) -> None:
    email = users.new_email("race")
    spellings = [email, email.upper(), email.capitalize(), email.swapcase()]
    responses = await asyncio.gather(
        *(
            users.api.post(
                "/v1/auth/register",
                json={"email": spellings[i % 4], "password": users.password, "name": f"R{i}"},
            )
            for i in range(20)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19
    assert all(r.json()["code"] == "email_taken" for r in responses if r.status_code == 409)
    assert await gateway_db["users"].count_documents({"email_key": email.lower()}) == 1
    tokens = await users.login(email.upper())
    wallets = await users.api.get("/v1/wallets", headers=bearer(tokens["access_token"]))
    assert len(wallets.json()["data"]) == 1


async def test_no_password_hash_ever_leaves_the_gateway(
    users: Any, gateway_db: Any, gateways: Any
) -> None:
    seen: list[httpx.Response] = []
    registered, email = await users.register()
    seen.append(await users.api.post("/v1/auth/login", json={"email": email, "password": "nope"}))
    tokens = await users.login(email)
    headers = bearer(tokens["access_token"])
    seen.append(await users.api.get("/v1/auth/me", headers=headers))
    seen.append(await users.api.post("/v1/api-keys", json={"name": "ci"}, headers=headers))
    seen.append(await users.api.get("/v1/api-keys", headers=headers))
    seen.append(
        await users.api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    )
    admin = await users.login(users.admin_email, users.admin_password)
    seen.append(
        await users.api.get("/v1/admin/users?limit=100", headers=bearer(admin["access_token"]))
    )
    stored = await gateway_db["users"].find_one({"_id": registered["user"]["id"]})
    password_hash = stored["password_hash"]
    assert password_hash.startswith("$2b$04$")
    bodies = [str(registered), *(r.text for r in seen)]
    for body in bodies:
        assert password_hash not in body
        assert "password" not in body.lower() or "email or password" in body.lower()
    log = gateways.main_log.read_text()
    assert registered["user"]["id"] in log  # the log is the right one, and it was written
    assert password_hash not in log
    assert password_hash[7:] not in log  # not even its salt and digest without the cost prefix


# ---------------------------------------------------------------- login


async def test_login_answers_a_bearer_token_pair(users: Any) -> None:
    _, email = await users.register()
    tokens = await users.login(email.upper())
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    me = await users.api.get("/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == email


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(users: Any) -> None:
    _, email = await users.register()
    wrong = await users.api.post(
        "/v1/auth/login", json={"email": email, "password": "wrong password!"}
    )
    unknown = await users.api.post(
        "/v1/auth/login", json={"email": users.new_email("ghost"), "password": users.password}
    )
    answers = [assert_problem(r, 401, "invalid_credentials") for r in (wrong, unknown)]
    stable = [{k: a[k] for k in ("type", "title", "status", "detail", "code")} for a in answers]
    assert stable[0] == stable[1]
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]


# ---------------------------------------------------------------- refresh and logout


async def test_a_refresh_gives_a_new_working_pair_and_spends_the_old_token(users: Any) -> None:
    _, tokens = await users.signed_up()
    response = await users.api.post(
        "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == 200, response.text
    renewed = response.json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    me = await users.api.get("/v1/auth/me", headers=bearer(renewed["access_token"]))
    assert me.status_code == 200


@pytest.mark.parametrize("garbage", ["not-a-token", "a.b.c", "pf_test_nope"])
async def test_a_refresh_with_an_invalid_token_is_refused(users: Any, garbage: str) -> None:
    response = await users.api.post("/v1/auth/refresh", json={"refresh_token": garbage})
    assert_problem(response, 401, "invalid_token")


async def test_an_access_token_is_not_a_refresh_token(users: Any) -> None:
    _, tokens = await users.signed_up()
    response = await users.api.post(
        "/v1/auth/refresh", json={"refresh_token": tokens["access_token"]}
    )
    assert_problem(response, 401, "invalid_token")


async def test_a_reused_refresh_token_revokes_its_whole_family(users: Any) -> None:
    _, first = await users.signed_up()
    second = (
        await users.api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    reuse = await users.api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_problem(reuse, 401, "token_reused")
    newer = await users.api.post(
        "/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert newer.status_code == 401
    assert newer.json()["code"] in {"token_reused", "invalid_token"}


async def test_another_session_survives_a_reuse_in_a_sibling_family(users: Any) -> None:
    _, email = await users.register()
    phone, laptop = await users.login(email), await users.login(email)
    await users.api.post("/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    await users.api.post("/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    response = await users.api.post(
        "/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]}
    )
    assert response.status_code == 200


async def test_ten_concurrent_refreshes_with_one_token_rotate_at_most_once(users: Any) -> None:
    _, tokens = await users.signed_up()
    responses = await asyncio.gather(
        *(
            users.api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            for _ in range(10)
        )
    )
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) <= 1
    assert {r.json()["code"] for r in responses if r.status_code != 200} == {"token_reused"}
    for winner in winners:  # a reuse raced it: the pair it got is dead
        again = await users.api.post(
            "/v1/auth/refresh", json={"refresh_token": winner.json()["refresh_token"]}
        )
        assert again.status_code == 401


async def test_after_logout_the_refresh_token_is_refused(users: Any) -> None:
    _, tokens = await users.signed_up()
    out = await users.api.post("/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204
    assert out.content == b""
    response = await users.api.post(
        "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert_problem(response, 401, "invalid_token")


async def test_logout_ends_the_rotated_tokens_of_the_session_too(users: Any) -> None:
    _, first = await users.signed_up()
    second = (
        await users.api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    await users.api.post("/v1/auth/logout", json={"refresh_token": second["refresh_token"]})
    reused_old = await users.api.post(
        "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reused_old.status_code == 401


async def test_logout_with_a_token_that_is_not_valid_is_harmless(users: Any) -> None:
    response = await users.api.post("/v1/auth/logout", json={"refresh_token": "nonsense"})
    assert response.status_code == 204


# ---------------------------------------------------------------- protected routes


async def test_a_protected_route_without_a_token_asks_for_one(users: Any) -> None:
    response = await users.api.get("/v1/auth/me")
    assert_problem(response, 401, "not_authenticated")
    basic = await users.api.get("/v1/auth/me", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert_problem(basic, 401, "not_authenticated")


@pytest.mark.parametrize(
    "token", ["garbage", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln", "a.b.c", "pf_live_x" * 5]
)
async def test_a_malformed_token_is_refused(users: Any, token: str) -> None:
    response = await users.api.get("/v1/auth/me", headers=bearer(token))
    body = assert_problem(response, 401, "invalid_token")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "Traceback" not in body["detail"]


async def test_a_token_with_a_wrong_signature_is_refused(users: Any) -> None:
    registered, tokens = await users.signed_up()
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    forged = jwt.encode(claims, "an-attackers-key-of-sufficient-length!", headers={"kid": "k1"})
    response = await users.api.get("/v1/auth/me", headers=bearer(forged))
    assert_problem(response, 401, "invalid_token")
    assert registered["user"]["id"] == claims["sub"]


async def test_a_refresh_token_is_not_an_access_token(users: Any) -> None:
    _, tokens = await users.signed_up()
    response = await users.api.get("/v1/auth/me", headers=bearer(tokens["refresh_token"]))
    assert_problem(response, 401, "invalid_token")


async def test_an_access_token_expires(users: Any, rotated_api: httpx.AsyncClient) -> None:
    _, email = await users.register()
    tokens = await users.login(email, api=rotated_api)
    assert tokens["expires_in"] == 2
    assert (await rotated_api.get("/v1/auth/me", headers=bearer(tokens["access_token"]))).is_success
    await asyncio.sleep(3.2)
    response = await rotated_api.get("/v1/auth/me", headers=bearer(tokens["access_token"]))
    body = assert_problem(response, 401, "invalid_token")
    assert "expired" in body["detail"]


async def test_a_refresh_token_expires(users: Any, rotated_api: httpx.AsyncClient) -> None:
    _, email = await users.register()
    tokens = await users.login(email, api=rotated_api)
    await asyncio.sleep(4.2)
    response = await rotated_api.post(
        "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert_problem(response, 401, "invalid_token")


async def test_tokens_of_the_previous_key_work_after_a_rotation_and_new_ones_need_the_new_key(
    users: Any, rotated_api: httpx.AsyncClient
) -> None:
    _, email = await users.register()
    old = await users.login(email)  # signed by the main gateway with k1
    assert jwt.get_unverified_header(old["access_token"])["kid"] == "k1"
    me = await rotated_api.get("/v1/auth/me", headers=bearer(old["access_token"]))
    assert me.status_code == 200, me.text
    new = await users.login(email, api=rotated_api)
    assert jwt.get_unverified_header(new["access_token"])["kid"] == "k2"
    # The main gateway was never given k2: to it, the new key is unknown.
    response = await users.api.get("/v1/auth/me", headers=bearer(new["access_token"]))
    assert_problem(response, 401, "invalid_token")


async def test_an_admin_route_is_forbidden_to_a_user_and_open_to_the_admin(users: Any) -> None:
    _, tokens = await users.signed_up()
    response = await users.api.get("/v1/admin/users", headers=bearer(tokens["access_token"]))
    assert_problem(response, 403, "forbidden")
    admin = await users.login(users.admin_email, users.admin_password)
    listed = await users.api.get("/v1/admin/users", headers=bearer(admin["access_token"]))
    assert listed.status_code == 200
    me = await users.api.get("/v1/auth/me", headers=bearer(admin["access_token"]))
    assert me.json()["role"] == "admin"


# ---------------------------------------------------------------- API keys


async def test_an_api_key_acts_as_its_owner_and_its_secret_is_shown_once(users: Any) -> None:
    registered, tokens = await users.signed_up()
    created = await users.api.post(
        "/v1/api-keys", json={"name": "deploy bot"}, headers=bearer(tokens["access_token"])
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert set(key) == {"id", "name", "key", "prefix", "created_at"}
    assert key["id"].startswith("key_")
    assert key["key"].startswith("pf_test_")
    assert len(key["key"]) >= len("pf_test_") + 43  # 32 random bytes, urlsafe base64
    assert key["key"].startswith(key["prefix"])
    me = await users.api.get("/v1/auth/me", headers=bearer(key["key"]))
    assert me.json()["id"] == registered["user"]["id"]
    listed = await users.api.get("/v1/api-keys", headers=bearer(key["key"]))
    assert listed.json() == {
        "data": [{k: key[k] for k in ("id", "name", "prefix", "created_at")}],
        "next_cursor": None,
    }
    assert key["key"] not in listed.text


async def test_a_revoked_api_key_stops_working_at_once(users: Any) -> None:
    _, tokens = await users.signed_up()
    headers = bearer(tokens["access_token"])
    key = (await users.api.post("/v1/api-keys", json={"name": "k"}, headers=headers)).json()
    assert (await users.api.get("/v1/auth/me", headers=bearer(key["key"]))).status_code == 200
    revoked = await users.api.delete(f"/v1/api-keys/{key['id']}", headers=headers)
    assert revoked.status_code == 204
    response = await users.api.get("/v1/auth/me", headers=bearer(key["key"]))
    assert_problem(response, 401, "invalid_token")
    assert (await users.api.get("/v1/api-keys", headers=headers)).json()["data"] == []
    again = await users.api.delete(f"/v1/api-keys/{key['id']}", headers=headers)
    assert_problem(again, 404, "api_key_not_found")


async def test_nobody_else_can_revoke_or_see_a_key(users: Any) -> None:
    _, owner = await users.signed_up()
    _, other = await users.signed_up()
    key = (
        await users.api.post(
            "/v1/api-keys", json={"name": "k"}, headers=bearer(owner["access_token"])
        )
    ).json()
    response = await users.api.delete(
        f"/v1/api-keys/{key['id']}", headers=bearer(other["access_token"])
    )
    assert_problem(response, 404, "api_key_not_found")
    theirs = await users.api.get("/v1/api-keys", headers=bearer(other["access_token"]))
    assert theirs.json()["data"] == []
    assert (await users.api.get("/v1/auth/me", headers=bearer(key["key"]))).status_code == 200


async def test_api_keys_are_listed_page_by_page(users: Any) -> None:
    _, tokens = await users.signed_up()
    headers = bearer(tokens["access_token"])
    for name in ("a", "b", "c"):
        await users.api.post("/v1/api-keys", json={"name": name}, headers=headers)
    first = (await users.api.get("/v1/api-keys?limit=2", headers=headers)).json()
    assert len(first["data"]) == 2
    assert first["next_cursor"]
    rest = (
        await users.api.get(
            "/v1/api-keys", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
        )
    ).json()
    assert rest["next_cursor"] is None
    assert sorted(k["name"] for k in first["data"] + rest["data"]) == ["a", "b", "c"]


# ---------------------------------------------------------------- the rest of the surface


async def test_a_request_id_is_echoed_and_otherwise_generated(users: Any) -> None:
    echoed = await users.api.get("/v1/auth/me", headers={"X-Request-Id": "req-abc-123"})
    assert echoed.headers["x-request-id"] == "req-abc-123"
    assert echoed.json()["request_id"] == "req-abc-123"
    generated = await users.api.get("/v1/auth/me")
    assert len(generated.headers["x-request-id"]) >= 16


async def test_the_openapi_document_shows_the_bearer_scheme_and_problem_answers(
    users: Any,
) -> None:
    document = (await users.api.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    me = document["paths"]["/v1/auth/me"]["get"]
    assert me["security"] == [{"bearer": []}]
    assert "application/problem+json" in me["responses"]["401"]["content"]
    register = document["paths"]["/v1/auth/register"]["post"]
    assert {"409", "422"} <= register["responses"].keys()
    assert "security" not in register
    assert "ProblemDetails" in document["components"]["schemas"]
    assert (await users.api.get("/docs")).status_code == 200


async def test_auth_failures_are_counted_by_reason(users: Any) -> None:
    await users.api.get("/v1/auth/me")
    await users.api.get("/v1/auth/me", headers=bearer("garbage"))
    metrics = (await users.api.get("/metrics")).text
    assert 'payflow_auth_failures_total{reason="missing_credentials"}' in metrics
    assert 'payflow_auth_failures_total{reason="malformed_token"}' in metrics


async def test_registration_is_withdrawn_when_the_wallet_service_is_down(
    users: Any, rotated_api: httpx.AsyncClient
) -> None:
    email = users.new_email("nowallet")
    started = time.monotonic()
    response = await rotated_api.post(
        "/v1/auth/register", json={"email": email, "password": users.password, "name": "N"}
    )
    assert_problem(response, 503, "service_unavailable")
    assert time.monotonic() - started < 15
    # Nothing is left half-done: the same email registers once the wallet service answers.
    registered, _ = await users.register(email)
    assert registered["wallet"]["owner_id"] == registered["user"]["id"]


async def test_an_unsigned_token_claiming_to_be_the_admin_is_refused(users: Any) -> None:
    admin = await users.login(users.admin_email, users.admin_password)
    claims = jwt.decode(admin["access_token"], options={"verify_signature": False})
    claims["exp"] = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"})
    response = await users.api.get("/v1/admin/users", headers=bearer(unsigned))
    assert_problem(response, 401, "invalid_token")

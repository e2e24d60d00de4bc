"""Issue 9 part 5 on every backend: usage counted as turns are stored, kept past thread deletion."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.utils.api import Account, FakeUpstream

ZERO = {"messages": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost": None}


def answering(tokens: dict[str, dict]) -> object:
    """An upstream whose usage depends on the model asked (`tokens[model]`; absent: no usage)."""

    def handle(request: httpx.Request) -> httpx.Response:
        model = json.loads(request.content)["model"]
        body: dict = {"model": model, "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}
        if model in tokens:
            body["usage"] = tokens[model]
        return httpx.Response(200, json=body)

    return handle


SMALL = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cost": 0.25}
BIG = {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}


@pytest.fixture
def metered(upstream: FakeUpstream) -> FakeUpstream:
    upstream.handler = answering({"a/small": SMALL, "b/big": BIG})  # type: ignore[assignment]
    return upstream


async def say(client: httpx.AsyncClient, who: Account, model: str, conversation_id: str | None = None) -> str:
    body = {"message": "hi", "model": model, "conversation_id": conversation_id}
    response = await client.post("/ai/chat", json=body, headers=who.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["conversation_id"])


async def usage(client: httpx.AsyncClient, who: Account, path: str = "/auth/me/usage", **query: str) -> dict:
    response = await client.get(path, params=query, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


def today() -> str:
    return datetime.now(UTC).date().isoformat()


async def test_a_new_account_has_spent_nothing(client: httpx.AsyncClient, alice: Account) -> None:
    assert await usage(client, alice) == {"total": ZERO, "by_day": [], "by_model": []}


async def test_each_answer_is_counted_by_day_and_model(
    client: httpx.AsyncClient, metered: FakeUpstream, alice: Account, bob: Account
) -> None:
    thread = await say(client, alice, "a/small")
    await say(client, alice, "a/small", thread)
    await say(client, alice, "b/big")
    await say(client, alice, "c/unmetered")
    await say(client, bob, "b/big")

    report = await usage(client, alice)

    assert report["total"] == {
        "messages": 4,
        "prompt_tokens": 120,
        "completion_tokens": 60,
        "total_tokens": 180,
        "cost": 0.5,
    }
    assert report["by_day"] == [{"date": today(), **report["total"]}]
    assert [
        (line["model"], line["messages"], line["total_tokens"], line["cost"]) for line in report["by_model"]
    ] == [
        ("b/big", 1, 150, None),
        ("a/small", 2, 30, 0.5),
        ("c/unmetered", 1, 0, None),
    ]
    assert (await usage(client, bob))["total"]["total_tokens"] == 150


async def test_the_range_of_days_is_honoured(
    client: httpx.AsyncClient, metered: FakeUpstream, alice: Account
) -> None:
    await say(client, alice, "a/small")
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()

    assert (await usage(client, alice, **{"from": yesterday, "to": yesterday}))["total"] == ZERO
    assert (await usage(client, alice, **{"from": today()}))["total"]["messages"] == 1
    assert (await usage(client, alice, to=today()))["total"]["messages"] == 1


@pytest.mark.parametrize(
    ("query", "location"),
    [
        ({"from": "2026-13-01"}, ["query", "from"]),
        ({"to": "yesterday"}, ["query", "to"]),
        ({"from": "2026-12-02", "to": "2026-12-01"}, ["query", "from"]),
    ],
)
async def test_a_bad_range_is_a_422(
    client: httpx.AsyncClient, alice: Account, query: dict, location: list
) -> None:
    response = await client.get("/auth/me/usage", params=query, headers=alice.headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == location


async def test_deleting_a_thread_or_the_history_keeps_what_was_spent(
    client: httpx.AsyncClient, metered: FakeUpstream, alice: Account
) -> None:
    first = await say(client, alice, "a/small")
    second = await say(client, alice, "b/big")
    before = await usage(client, alice)

    assert (await client.delete(f"/conversations/{first}", headers=alice.headers)).status_code == 204
    assert (await client.delete(f"/history/{second}", headers=alice.headers)).status_code == 204
    assert (await client.delete("/history", headers=alice.headers)).status_code == 204

    assert await usage(client, alice) == before


async def test_deleting_the_account_erases_its_usage(
    client: httpx.AsyncClient, metered: FakeUpstream, alice: Account, admin: Account
) -> None:
    await say(client, alice, "a/small")
    assert (await usage(client, admin, f"/users/{alice.id}/usage"))["total"]["messages"] == 1

    assert (await client.delete("/users/me", headers=alice.headers)).status_code == 204

    gone = await client.get(f"/users/{alice.id}/usage", headers=admin.headers)
    assert gone.status_code == 404
    listed = await usage(client, admin, "/users/usage")
    assert alice.id not in {item["user_id"] for item in listed["items"]}


async def test_admins_see_one_account_and_every_account(
    client: httpx.AsyncClient, metered: FakeUpstream, alice: Account, bob: Account, admin: Account
) -> None:
    await say(client, alice, "a/small")
    await say(client, bob, "b/big")
    await say(client, bob, "b/big")

    assert await usage(client, admin, f"/users/{bob.id}/usage") == await usage(client, bob)
    listed = (await usage(client, admin, "/users/usage"))["items"]
    by_id = {item["user_id"]: item for item in listed}
    assert [item["user_id"] for item in listed] == [alice.id, bob.id, admin.id]  # oldest account first
    assert (by_id[alice.id]["email"], by_id[alice.id]["name"], by_id[alice.id]["total_tokens"]) == (
        "alice@example.com",
        "alice",
        15,
    )
    assert (by_id[bob.id]["messages"], by_id[bob.id]["total_tokens"]) == (2, 300)
    assert {key: by_id[admin.id][key] for key in ZERO} == ZERO


async def test_admin_routes_refuse_plain_users(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    for path in ("/users/usage", f"/users/{bob.id}/usage", "/users/usage?format=csv"):
        assert (await client.get(path, headers=alice.headers)).status_code == 403


async def test_the_report_comes_as_csv_safe_to_open_in_a_spreadsheet(
    client: httpx.AsyncClient, metered: FakeUpstream, alice: Account, admin: Account
) -> None:
    await client.patch("/auth/me", json={"name": '=HYPERLINK("http://evil")'}, headers=alice.headers)
    await say(client, alice, "a/small")

    response = await client.get("/users/usage", params={"format": "csv"}, headers=admin.headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["user_id"] for row in rows] == [alice.id, admin.id]
    assert rows[0]["name"] == '\'=HYPERLINK("http://evil")'
    assert (rows[0]["total_tokens"], rows[0]["cost"], rows[1]["cost"]) == ("15", "0.25", "")


@pytest.mark.parametrize("backend", ["tinydb"])
async def test_a_damaged_usage_archive_fails_its_accounts_reads_with_503_naming_the_file(
    client: httpx.AsyncClient,
    metered: FakeUpstream,
    alice: Account,
    bob: Account,
    admin: Account,
    data_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The archive is read on the account's first need: the damage is found then, never served.
    gone = await say(client, alice, "a/small")
    assert (await client.delete(f"/conversations/{gone}", headers=alice.headers)).status_code == 204
    await say(client, bob, "a/small")
    path = data_dir / "usage" / f"{alice.id}.json"
    path.write_text(path.read_text().replace('"total_tokens": 15', '"total_tokens": "15"'))

    for who, route in (
        (alice, "/auth/me/usage"),
        (admin, f"/users/{alice.id}/usage"),
        (admin, "/users/usage"),
    ):
        with caplog.at_level(logging.ERROR):
            response = await client.get(route, headers=who.headers)
        assert response.status_code == 503, (route, response.text)
        assert str(path) in caplog.text
        caplog.clear()
    assert (await usage(client, bob))["total"]["total_tokens"] == 15

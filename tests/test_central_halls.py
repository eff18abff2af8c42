"""Halls and their uplink tokens (hallq.central.halls), on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest

from hallq.central.db import Database
from hallq.central.halls import (
    LAST_USED_EVERY,
    authenticate,
    create_hall,
    issue_token,
    list_halls,
    list_tokens,
    revoke_token,
    update_hall,
)
from hallq.errors import BadRequest, CommandRejected, NotFound


async def test_create_list_and_rename_halls(central_db: Database) -> None:
    await create_hall(central_db, "zz-east", "枣庄东区便民服务中心", "Zaozhuang East", 100.0)
    await create_hall(central_db, "binhai", "", "", 101.0)
    halls = await list_halls(central_db)
    assert [h["hall_id"] for h in halls] == ["binhai", "zz-east"]
    east = halls[1]
    assert east["name"] == "枣庄东区便民服务中心"
    assert east["name_en"] == "Zaozhuang East"
    assert east["created_at"] == 100.0
    assert east["acked_seq"] == 0
    assert east["last_seen"] is None
    assert east["config_digest"] == ""
    assert east["live"] == {}

    await update_hall(central_db, "binhai", "滨海新区政务服务中心", "Binhai")
    renamed = (await list_halls(central_db))[0]
    assert (renamed["name"], renamed["name_en"]) == ("滨海新区政务服务中心", "Binhai")


async def test_hall_ids_and_names_are_checked(central_db: Database) -> None:
    for bad in ("", "a", "Upper", "-lead", "has space", "中文", "x" * 64, "a_b"):
        with pytest.raises(BadRequest) as err:
            await create_hall(central_db, bad, "大厅", "", 1.0)
        assert err.value.code == "bad_hall_id"
    with pytest.raises(BadRequest, match="bad_name"):
        await create_hall(central_db, "ok-hall", "x" * 101, "", 1.0)
    await create_hall(central_db, "ok-hall", "大厅", "", 1.0)
    with pytest.raises(CommandRejected) as dup:
        await create_hall(central_db, "ok-hall", "另一个", "", 2.0)
    assert (dup.value.code, dup.value.status) == ("hall_exists", 409)
    with pytest.raises(NotFound, match="no_such_hall"):
        await update_hall(central_db, "nope", "x", "")
    assert [h["name"] for h in await list_halls(central_db)] == ["大厅"]


async def test_a_token_is_shown_once_and_only_its_hash_is_kept(central_db: Database) -> None:
    await create_hall(central_db, "h1", "一号", "", 1.0)
    token, token_id = await issue_token(central_db, "h1", "树莓派 1", "admin", 10.0)
    assert token.startswith("hqt_") and len(token) > 40
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert token_id == digest[:8]
    stored = await central_db.fetch("SELECT * FROM hall_tokens")
    assert len(stored) == 1
    assert stored[0]["token_hash"] == digest
    assert token not in [str(stored[0][k]) for k in list(stored[0].keys())]  # nowhere
    [listed] = await list_tokens(central_db, "h1")
    assert listed["token_id"] == token_id
    assert listed["label"] == "树莓派 1"
    assert listed["created_by"] == "admin"
    assert listed["revoked_at"] is None
    assert "token_hash" not in listed

    assert await authenticate(central_db, token, 20.0) == "h1"
    other, _ = await issue_token(central_db, "h1", "", "admin", 11.0)
    assert other != token
    assert await authenticate(central_db, other, 20.0) == "h1"

    with pytest.raises(NotFound, match="no_such_hall"):
        await issue_token(central_db, "nope", "", "admin", 1.0)


async def test_unknown_and_malformed_tokens_are_refused(central_db: Database) -> None:
    await create_hall(central_db, "h1", "一号", "", 1.0)
    token, _ = await issue_token(central_db, "h1", "", "admin", 1.0)
    for wrong in (
        "",
        "hqt_",
        token[:-1],
        token + "x",
        token.replace("hqt_", "xyz_"),
        "hqt_" + "a" * 500,
    ):
        assert await authenticate(central_db, wrong, 2.0) is None


async def test_a_revoked_token_is_refused_at_once(central_db: Database) -> None:
    await create_hall(central_db, "h1", "一号", "", 1.0)
    token, token_id = await issue_token(central_db, "h1", "", "admin", 1.0)
    keep, _ = await issue_token(central_db, "h1", "", "admin", 1.0)
    assert await authenticate(central_db, token, 2.0) == "h1"  # last_used_at now fresh
    await revoke_token(central_db, "h1", token_id, "city-admin", 3.0)
    assert await authenticate(central_db, token, 3.5) is None
    assert await authenticate(central_db, keep, 3.5) == "h1"  # only that token
    revoked = next(t for t in await list_tokens(central_db, "h1") if t["token_id"] == token_id)
    assert (revoked["revoked_at"], revoked["revoked_by"]) == (3.0, "city-admin")
    await revoke_token(central_db, "h1", token_id, "someone", 9.0)  # again: nothing changes
    revoked = next(t for t in await list_tokens(central_db, "h1") if t["token_id"] == token_id)
    assert (revoked["revoked_at"], revoked["revoked_by"]) == (3.0, "city-admin")
    with pytest.raises(NotFound, match="no_such_token"):
        await revoke_token(central_db, "h1", "00000000", "admin", 4.0)


async def test_a_hall_cannot_revoke_through_another_halls_id(central_db: Database) -> None:
    await create_hall(central_db, "h1", "一号", "", 1.0)
    await create_hall(central_db, "h2", "二号", "", 1.0)
    token, token_id = await issue_token(central_db, "h1", "", "admin", 1.0)
    with pytest.raises(NotFound):
        await revoke_token(central_db, "h2", token_id, "admin", 2.0)
    assert await authenticate(central_db, token, 3.0) == "h1"


async def test_last_used_is_written_at_most_once_a_minute(central_db: Database) -> None:
    await create_hall(central_db, "h1", "一号", "", 1.0)
    token, _ = await issue_token(central_db, "h1", "", "admin", 1.0)

    async def last_used() -> float | None:
        [t] = await list_tokens(central_db, "h1")
        value = t["last_used_at"]
        return None if value is None else float(value)

    assert await last_used() is None
    await authenticate(central_db, token, 1000.0)
    assert await last_used() == 1000.0
    await authenticate(central_db, token, 1000.0 + LAST_USED_EVERY - 1)
    assert await last_used() == 1000.0
    await authenticate(central_db, token, 1000.0 + LAST_USED_EVERY)
    assert await last_used() == 1000.0 + LAST_USED_EVERY


async def test_labels_are_checked(central_db: Database) -> None:
    await create_hall(central_db, "h1", "一号", "", 1.0)
    with pytest.raises(BadRequest, match="bad_label"):
        await issue_token(central_db, "h1", "x" * 101, "admin", 1.0)
    with pytest.raises(BadRequest, match="bad_label"):
        await issue_token(central_db, "h1", "a\nb", "admin", 1.0)
    assert await list_tokens(central_db, "h1") == []

"""Storage behind "no alarm fatigue", on SQLite and PostgreSQL: the weekly cap and the
"seen a doctor" pause read from stored escalations and pauses, the button's token, and the
migration that marks earlier screens as full ones."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.content_bundle import load_bundle
from bot.db import migrate
from bot.db.models import Checkin, Escalation, HistoryFlagPause, User
from bot.db.session import SessionFactory, create_engine, create_session_factory
from bot.domain.triage import assess_screen
from bot.paths import CONTENT_DIR
from bot.services import guidance

CONTENT = load_bundle(CONTENT_DIR)
CATALOG = CONTENT.catalog
PERSON, OTHER = 501, 502
TODAY = date(2026, 11, 22)


def twitching_day(user_id: int, day: date) -> Checkin:
    return Checkin(
        user_id=user_id,
        local_date=day,
        severity=1,
        locations="eyelid_face",
        sleep_hours=7.0,
        caffeine_mg=0,
        water_litres=2.0,
    )


async def seed_person(sessions: SessionFactory, user_id: int) -> None:
    """A consented person with twitching on the 14 days up to TODAY."""
    async with sessions.begin() as session:
        session.add(User(id=user_id, timezone="Europe/Berlin"))
        await session.flush()
        for back in range(14):
            session.add(twitching_day(user_id, TODAY - timedelta(days=back)))


async def history_check(
    sessions: SessionFactory, user_id: int, day: date, *, twitching: bool = True
) -> guidance.EscalationNotice | None:
    """What the check-in of `day` tells from history, in its own transaction (storing a
    twitching check-in for that day first, unless there is one)."""
    async with sessions.begin() as session:
        stored = await session.scalar(
            select(Checkin.id).where(Checkin.user_id == user_id, Checkin.local_date == day)
        )
        if stored is None and twitching:
            session.add(twitching_day(user_id, day))
            await session.flush()
        rows = await guidance.recent_checkins(session, user_id, day)
        return await guidance.escalate_history(
            session,
            user_id=user_id,
            catalog=CATALOG,
            history=rows,
            day=day,
            twitching_today=twitching,
        )


async def press_seen_doctor(
    sessions: SessionFactory, user_id: int, token: str, day: date
) -> guidance.DoctorSeen | None:
    async with sessions.begin() as session:
        return await guidance.record_doctor_seen(
            session, user_id=user_id, token=token, catalog=CATALOG, day=day
        )


async def test_weekly_cap_and_calm_days_read_the_stored_escalations(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    await seed_person(sessions, PERSON)
    assert await history_check(sessions, PERSON, TODAY, twitching=False) is None
    first = await history_check(sessions, PERSON, TODAY)
    assert first is not None and first.flag_ids == ("twitching_long",)
    for later in range(1, 7):
        day = TODAY + timedelta(days=later)
        assert await history_check(sessions, PERSON, day) is None, f"day {later}"
    again = await history_check(sessions, PERSON, TODAY + timedelta(days=7))
    assert again is not None and again.flag_ids == ("twitching_long",)
    async with sessions() as session:
        told = await session.scalars(
            select(Escalation.local_date).where(Escalation.user_id == PERSON)
        )
        assert sorted(told) == [TODAY, TODAY + timedelta(days=7)]


async def test_seen_a_doctor_stores_one_pause_per_person_and_reason(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    await seed_person(sessions, PERSON)
    await seed_person(sessions, OTHER)
    notice = await history_check(sessions, PERSON, TODAY)
    assert notice is not None and notice.doctor_token is not None
    other_notice = await history_check(sessions, OTHER, TODAY)
    assert other_notice is not None and other_notice.doctor_token != notice.doctor_token

    assert await press_seen_doctor(sessions, OTHER, notice.doctor_token, TODAY) is None, (
        "a token only works for the person it was given to"
    )
    seen = await press_seen_doctor(sessions, PERSON, notice.doctor_token, TODAY)
    assert seen is not None and seen.until == TODAY + timedelta(weeks=8)
    assert seen.reasons == (CATALOG.flags["twitching_long"].reason,)
    again = await press_seen_doctor(sessions, PERSON, notice.doctor_token, TODAY + timedelta(1))
    assert again == seen, "pressing again changes nothing"

    async with sessions() as session:
        pauses = (await session.scalars(select(HistoryFlagPause))).all()
        assert [(p.user_id, p.flag_id, p.seen_on, p.paused_until) for p in pauses] == [
            (PERSON, "twitching_long", TODAY, TODAY + timedelta(weeks=8))
        ]
        escalation = await session.scalar(
            select(Escalation).where(Escalation.doctor_token == notice.doctor_token)
        )
        assert escalation is not None and escalation.doctor_seen_on == TODAY

    for later in range(1, 56):  # twitching every day of the pause: nothing is told
        day = TODAY + timedelta(days=later)
        assert await history_check(sessions, PERSON, day) is None, f"day {later}"
    async with sessions() as session:  # while the pattern itself was there all along
        rows = await guidance.recent_checkins(session, PERSON, day)
        assert "twitching_long" in guidance.history_assessment(CATALOG, rows, day).flag_ids
    other_later = await history_check(sessions, OTHER, TODAY + timedelta(days=7))
    assert other_later is not None, "the other person's flag is not paused"


async def test_a_pause_ends_after_eight_weeks_and_a_new_press_renews_it(
    engine: AsyncEngine,
) -> None:
    sessions = create_session_factory(engine)
    await seed_person(sessions, PERSON)
    notice = await history_check(sessions, PERSON, TODAY)
    assert notice is not None and notice.doctor_token is not None
    await press_seen_doctor(sessions, PERSON, notice.doctor_token, TODAY)

    back = TODAY + timedelta(weeks=8)
    async with sessions.begin() as session:  # still twitching most days eight weeks on
        for days_before in range(1, 14):
            session.add(twitching_day(PERSON, back - timedelta(days=days_before)))
    resumed = await history_check(sessions, PERSON, back)
    assert resumed is not None and resumed.flag_ids == ("twitching_long",)
    assert resumed.doctor_token is not None
    renewed = await press_seen_doctor(sessions, PERSON, resumed.doctor_token, back)
    assert renewed is not None and renewed.until == back + timedelta(weeks=8)
    async with sessions() as session:
        [pause] = (await session.scalars(select(HistoryFlagPause))).all()
        assert (pause.seen_on, pause.paused_until) == (back, back + timedelta(weeks=8))


async def test_screen_and_text_escalations_without_a_history_reason_offer_no_button(
    engine: AsyncEngine,
) -> None:
    sessions = create_session_factory(engine)
    await seed_person(sessions, PERSON)
    async with sessions.begin() as session:
        weakness = await guidance.escalate(
            session,
            user_id=PERSON,
            assessment=assess_screen(CATALOG, ["weakness"]),
            origin="screen",
            day=TODAY,
            store=True,
        )
        emergency = await guidance.escalate(
            session,
            user_id=PERSON,
            assessment=assess_screen(CATALOG, ["seizure_blackout", "many_places"]),
            origin="screen",
            day=TODAY,
            store=True,
        )
    assert weakness is not None and weakness.doctor_token is None
    assert emergency is not None and emergency.doctor_token is None


async def test_the_migration_marks_earlier_screens_as_full(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        await migrate.upgrade(engine, "0005")
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO users (id) VALUES (:id)"), {"id": PERSON})
            columns = "user_id, local_date, severity, locations, sleep_hours, caffeine_mg, "
            columns += "water_litres, screen"
            for day, screen in ((TODAY - timedelta(days=1), "[]"), (TODAY, None)):
                await connection.execute(
                    text(
                        f"INSERT INTO checkins ({columns}) "
                        "VALUES (:user, :day, 1, '', 7, 0, 2, :screen)"
                    ),
                    {"user": PERSON, "day": day, "screen": screen},
                )
        await migrate.upgrade(engine)
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT local_date, screen_kind FROM checkins"))
            kinds = {str(day): kind for day, kind in result.all()}
        assert kinds == {
            str(TODAY - timedelta(days=1)): "full",
            str(TODAY): None,
        }
    finally:
        await engine.dispose()

-- 0005: small pre-aggregated tables for the session-based dashboard panels (overview
-- sessions and visitors, user journeys), so that no panel aggregates the sessions
-- table at query time.  The ETL recomputes them in the same transaction as the 0004
-- rollups, for the hours and days whose sessions changed (etl_rollups.py).
--
-- Sessions count by the UTC hour or day they started; a visitor is the session's
-- visitor_key (NULL visitors are not counted, as count(DISTINCT) does not count them).

-- Overview: sessions by the hour they started.
CREATE TABLE IF NOT EXISTS public.hourly_sessions (
    session_hour        timestamptz NOT NULL,
    sessions            bigint      NOT NULL,
    visitors            bigint      NOT NULL,
    converted           bigint      NOT NULL,
    bounced             bigint      NOT NULL,
    duration_seconds    bigint      NOT NULL,
    CONSTRAINT hourly_sessions_pkey PRIMARY KEY (session_hour)
);
COMMENT ON COLUMN public.hourly_sessions.visitors IS
    'Distinct visitors of the sessions started in the hour (not additive over hours).';
COMMENT ON COLUMN public.hourly_sessions.bounced IS 'Sessions of a single event.';
COMMENT ON COLUMN public.hourly_sessions.duration_seconds IS 'Sum of the sessions'' durations.';

-- Distinct visitors over any range of days without counting distinct at query time:
-- one row per visitor and day with a session start, with the visitor's previous such
-- day.  A visitor active in [a, b] has exactly one row in [a, b] whose previous day is
-- before a (or NULL), so distinct visitors of [a, b] = the number of those rows.
CREATE TABLE IF NOT EXISTS public.visitor_days (
    visitor_key     text    NOT NULL,
    day             date    NOT NULL,
    previous_day    date,
    sessions        integer NOT NULL,
    CONSTRAINT visitor_days_pkey PRIMARY KEY (visitor_key, day),
    CONSTRAINT visitor_days_previous_before CHECK (previous_day < day)
);
COMMENT ON TABLE public.visitor_days IS
    'Each visitor''s days with a session start; previous_day is the visitor''s day before (NULL: first).';
CREATE INDEX IF NOT EXISTS visitor_days_day ON public.visitor_days (day);

-- visitor_days counted by (day, previous_day): what the panels read.
CREATE TABLE IF NOT EXISTS public.daily_visitors (
    day             date    NOT NULL,
    previous_day    date,
    visitors        bigint  NOT NULL,
    CONSTRAINT daily_visitors_day_previous_day UNIQUE NULLS NOT DISTINCT (day, previous_day)
);
COMMENT ON TABLE public.daily_visitors IS
    'Visitors by day and previous active day. Day d: sum over d. Distinct over [a, b]: sum over'
    ' day in [a, b] with previous_day NULL or before a.';

-- User journeys: sessions by number of events (20 = 20 or more).
CREATE TABLE IF NOT EXISTS public.daily_session_depth (
    day         date     NOT NULL,
    depth       smallint NOT NULL,
    sessions    bigint   NOT NULL,
    converted   bigint   NOT NULL,
    CONSTRAINT daily_session_depth_pkey PRIMARY KEY (day, depth),
    CONSTRAINT daily_session_depth_range CHECK (depth BETWEEN 1 AND 20)
);

-- User journeys: sessions by first and last event.
CREATE TABLE IF NOT EXISTS public.daily_session_entry_exit (
    day                 date    NOT NULL,
    first_event_name    text    NOT NULL,
    last_event_name     text    NOT NULL,
    sessions            bigint  NOT NULL,
    converted           bigint  NOT NULL,
    events              bigint  NOT NULL,
    CONSTRAINT daily_session_entry_exit_pkey PRIMARY KEY (day, first_event_name, last_event_name)
);

-- User journeys: sessions by entry page (NULL: no page known), and by entry and exit
-- page for the most common exit of an entry page.
CREATE TABLE IF NOT EXISTS public.daily_entry_pages (
    day                 date    NOT NULL,
    entry_page          text,
    sessions            bigint  NOT NULL,
    bounced             bigint  NOT NULL,
    converted           bigint  NOT NULL,
    duration_seconds    bigint  NOT NULL,
    CONSTRAINT daily_entry_pages_day_entry_page UNIQUE NULLS NOT DISTINCT (day, entry_page)
);
CREATE TABLE IF NOT EXISTS public.daily_entry_exit_pages (
    day         date    NOT NULL,
    entry_page  text,
    exit_page   text    NOT NULL,
    sessions    bigint  NOT NULL,
    CONSTRAINT daily_entry_exit_pages_day_pages UNIQUE NULLS NOT DISTINCT (day, entry_page, exit_page)
);
-- The most common exit of an entry page over a range: an index-only scan.
CREATE INDEX IF NOT EXISTS daily_entry_exit_pages_entry_page
    ON public.daily_entry_exit_pages (entry_page, day) INCLUDE (exit_page, sessions);

-- User journeys: what comes next within a session unit of a UTC day (the sessionId,
-- else the visitor, as in daily_funnel), event name to event name; to_event_name
-- '(exit)' after the unit's last event of the day.
CREATE TABLE IF NOT EXISTS public.daily_event_transitions (
    day             date    NOT NULL,
    from_event_name text    NOT NULL,
    to_event_name   text    NOT NULL,
    transitions     bigint  NOT NULL,
    CONSTRAINT daily_event_transitions_pkey PRIMARY KEY (day, from_event_name, to_event_name)
);

-- User journeys: the most common paths, the first four events of a session unit's day
-- (fewer when it had fewer; ' → …' when it had more), and how many of those units
-- completed a checkout that day.
CREATE TABLE IF NOT EXISTS public.daily_session_paths (
    day         date    NOT NULL,
    path        text    NOT NULL,
    sessions    bigint  NOT NULL,
    converted   bigint  NOT NULL,
    CONSTRAINT daily_session_paths_pkey PRIMARY KEY (day, path)
);
COMMENT ON COLUMN public.daily_session_paths.path IS
    'Event names joined by '' → '', in time order.';

GRANT SELECT, INSERT, UPDATE, DELETE
    ON public.hourly_sessions, public.visitor_days, public.daily_visitors,
       public.daily_session_depth, public.daily_session_entry_exit, public.daily_entry_pages,
       public.daily_entry_exit_pages, public.daily_event_transitions, public.daily_session_paths
    TO etl_writer;
GRANT SELECT
    ON public.hourly_sessions, public.visitor_days, public.daily_visitors,
       public.daily_session_depth, public.daily_session_entry_exit, public.daily_entry_pages,
       public.daily_entry_exit_pages, public.daily_event_transitions, public.daily_session_paths
    TO dw_reader;

-- A warehouse that already holds sessions and events gets the new tables filled once,
-- on the first application only (the ETL keeps them up to date from then on): the same
-- figures as etl_rollups.py computes, for every day at once.  The ETL's rollup lock
-- keeps a refresh from running meanwhile.
DO $lock$ BEGIN PERFORM pg_advisory_xact_lock(1668049778); END $lock$;  -- ROLLUP_LOCK_KEY

CREATE TEMPORARY TABLE migration_0005_backfill ON COMMIT DROP AS
SELECT NOT EXISTS (SELECT FROM public.schema_migrations m
                   WHERE m.filename = '0005_session_rollups.sql') AS needed;

CREATE TEMPORARY TABLE migration_0005_sessions ON COMMIT DROP AS
SELECT (s.started_at AT TIME ZONE 'UTC')::date AS day,
       date_trunc('hour', s.started_at, 'UTC') AS session_hour, s.visitor_key, s.event_count,
       s.converted, s.duration_seconds, s.entry_page, s.exit_page, s.first_event_name,
       s.last_event_name
FROM public.sessions s
WHERE (SELECT b.needed FROM migration_0005_backfill b);

INSERT INTO public.hourly_sessions (session_hour, sessions, visitors, converted, bounced,
    duration_seconds)
SELECT s.session_hour, count(*), count(DISTINCT s.visitor_key),
       count(*) FILTER (WHERE s.converted), count(*) FILTER (WHERE s.event_count = 1),
       sum(s.duration_seconds)
FROM migration_0005_sessions s
GROUP BY 1;

INSERT INTO public.visitor_days (visitor_key, day, previous_day, sessions)
SELECT v.visitor_key, v.day, lag(v.day) OVER (PARTITION BY v.visitor_key ORDER BY v.day),
       v.sessions
FROM (SELECT s.visitor_key, s.day, count(*) AS sessions FROM migration_0005_sessions s
      WHERE s.visitor_key IS NOT NULL GROUP BY 1, 2) v;

INSERT INTO public.daily_visitors (day, previous_day, visitors)
SELECT v.day, v.previous_day, count(*)
FROM public.visitor_days v
WHERE (SELECT b.needed FROM migration_0005_backfill b)
GROUP BY 1, 2;

INSERT INTO public.daily_session_depth (day, depth, sessions, converted)
SELECT s.day, least(s.event_count, 20), count(*), count(*) FILTER (WHERE s.converted)
FROM migration_0005_sessions s
GROUP BY 1, 2;

INSERT INTO public.daily_session_entry_exit (day, first_event_name, last_event_name, sessions,
    converted, events)
SELECT s.day, s.first_event_name, s.last_event_name, count(*),
       count(*) FILTER (WHERE s.converted), sum(s.event_count)
FROM migration_0005_sessions s
GROUP BY 1, 2, 3;

INSERT INTO public.daily_entry_pages (day, entry_page, sessions, bounced, converted,
    duration_seconds)
SELECT s.day, s.entry_page, count(*), count(*) FILTER (WHERE s.event_count = 1),
       count(*) FILTER (WHERE s.converted), sum(s.duration_seconds)
FROM migration_0005_sessions s
GROUP BY 1, 2;

INSERT INTO public.daily_entry_exit_pages (day, entry_page, exit_page, sessions)
SELECT s.day, s.entry_page, s.exit_page, count(*)
FROM migration_0005_sessions s
WHERE s.exit_page IS NOT NULL
GROUP BY 1, 2, 3;

-- Transitions and paths come from the events of the days that have rollups (those the
-- ETL refreshed), per session unit of the day, as etl_rollups.py computes them.
CREATE TEMPORARY TABLE migration_0005_day_events ON COMMIT DROP AS
SELECT (e.event_timestamp AT TIME ZONE 'UTC')::date AS day, e.event_id, e.event_timestamp,
       e.event_name, coalesce(e.session_id, 'v:' || coalesce(e.client_id, e.user_id)) AS unit
FROM public.clickstream_events e
WHERE (SELECT b.needed FROM migration_0005_backfill b)
  AND coalesce(e.session_id, e.client_id, e.user_id) IS NOT NULL
  AND (e.event_timestamp AT TIME ZONE 'UTC')::date IN (SELECT f.day FROM public.daily_funnel f);

INSERT INTO public.daily_event_transitions (day, from_event_name, to_event_name, transitions)
SELECT t.day, t.event_name, coalesce(t.next_event_name, '(exit)'), count(*)
FROM (
    SELECT d.day, d.event_name,
           lead(d.event_name) OVER (PARTITION BY d.day, d.unit
                                    ORDER BY d.event_timestamp, d.event_id) AS next_event_name
    FROM migration_0005_day_events d
) t
GROUP BY 1, 2, 3;

INSERT INTO public.daily_session_paths (day, path, sessions, converted)
SELECT u.day, array_to_string(u.names[1:4], ' → ')
           || CASE WHEN cardinality(u.names) > 4 THEN ' → …' ELSE '' END,
       count(*), count(*) FILTER (WHERE u.converted)
FROM (
    SELECT d.day, array_agg(d.event_name ORDER BY d.event_timestamp, d.event_id) AS names,
           bool_or(d.event_name = 'checkout_complete') AS converted
    FROM migration_0005_day_events d
    GROUP BY d.day, d.unit
) u
GROUP BY 1, 2;

INSERT INTO public.schema_migrations (filename) VALUES ('0005_session_rollups.sql')
ON CONFLICT (filename) DO NOTHING;

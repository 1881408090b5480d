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

-- A warehouse that already holds events gets the new tables filled by the ETL: on the
-- first application only, every hour with events is queued for the rollup refresh,
-- which the next ETL run (or playbooks/etl_rerun.yml) does, with the same SQL as
-- every other refresh.
INSERT INTO public.etl_pending_rollups (event_hour)
SELECT DISTINCT date_trunc('hour', e.event_timestamp, 'UTC')
FROM public.clickstream_events e
WHERE NOT EXISTS (SELECT FROM public.schema_migrations m
                  WHERE m.filename = '0005_session_rollups.sql')
ON CONFLICT (event_hour) DO NOTHING;

INSERT INTO public.schema_migrations (filename) VALUES ('0005_session_rollups.sql')
ON CONFLICT (filename) DO NOTHING;

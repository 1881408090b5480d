-- 0008: who the visitors are (issue #17): device, browser, OS, bots and traffic source.
--
-- The ETL classifies each event as it loads it (clickstream_etl/etl_classify.py): the
-- user agent gives device_type, browser_family, browser_major, os_family and is_bot
-- (bot_reason 'user_agent'); the page URL's query and the referrer give the UTM values,
-- referrer_host and traffic_channel.  Bots are flagged, never dropped.
--
-- A session is a bot when one of its events is (the user agent), or by its behaviour
-- (more than N events within one second, or no page at all): sessions.is_bot and
-- sessions.bot_reason ('user_agent' or 'behaviour').  Behaviour is known only once a
-- session's events are in, so it lives on the session; an event's own is_bot is its
-- user agent's verdict.  Every rollup gains is_bot in its key: event rollups by the
-- event's verdict, session rollups by the session's.  The dashboards leave is_bot
-- rows out by default and add them with a switch.
--
-- Rows loaded before 0008 have NULL classification; each ETL run classifies a bounded
-- batch of their hours (etl_unclassified_hours) until none is left, and
-- playbooks/etl_reclassify.yml does any range again after a rule or library update.
-- etl_writer may UPDATE the classification columns of events, and nothing else.

ALTER TABLE public.clickstream_events
    ADD COLUMN IF NOT EXISTS device_type     text,
    ADD COLUMN IF NOT EXISTS browser_family  text,
    ADD COLUMN IF NOT EXISTS browser_major   text,
    ADD COLUMN IF NOT EXISTS os_family       text,
    ADD COLUMN IF NOT EXISTS is_bot          boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS bot_reason      text,
    ADD COLUMN IF NOT EXISTS referrer_host   text,
    ADD COLUMN IF NOT EXISTS utm_source      text,
    ADD COLUMN IF NOT EXISTS utm_medium      text,
    ADD COLUMN IF NOT EXISTS utm_campaign    text,
    ADD COLUMN IF NOT EXISTS utm_term        text,
    ADD COLUMN IF NOT EXISTS utm_content     text,
    ADD COLUMN IF NOT EXISTS traffic_channel text;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint
                   WHERE conname = 'clickstream_events_classification') THEN
        ALTER TABLE public.clickstream_events ADD CONSTRAINT clickstream_events_classification CHECK (
            (device_type IS NULL OR device_type IN ('desktop', 'mobile', 'tablet', 'bot', 'other'))
            AND (traffic_channel IS NULL OR traffic_channel IN ('direct', 'organic_search',
                'paid_search', 'organic_social', 'paid_social', 'email', 'referral', 'internal',
                'other'))
            AND is_bot = (bot_reason IS NOT NULL)
            AND (bot_reason IS NULL OR bot_reason = 'user_agent')
        ) NOT VALID;
    END IF;
END
$$;

COMMENT ON COLUMN public.clickstream_events.device_type IS
    'desktop, mobile, tablet, bot or other, from _ingest.userAgent (NULL: not yet classified).';
COMMENT ON COLUMN public.clickstream_events.is_bot IS
    'The user agent is a crawler, a headless browser or a scripted client (bot_reason user_agent).';
COMMENT ON COLUMN public.clickstream_events.traffic_channel IS
    'GA4-shaped default channel of the event, from the page URL''s UTM values and the referrer.';

GRANT UPDATE (device_type, browser_family, browser_major, os_family, is_bot, bot_reason,
              referrer_host, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
              traffic_channel)
    ON public.clickstream_events TO etl_writer;

-- A session's class and its landing event's source and device.
ALTER TABLE public.sessions
    ADD COLUMN IF NOT EXISTS is_bot          boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS bot_reason      text,
    ADD COLUMN IF NOT EXISTS device_type     text,
    ADD COLUMN IF NOT EXISTS browser_family  text,
    ADD COLUMN IF NOT EXISTS os_family       text,
    ADD COLUMN IF NOT EXISTS traffic_channel text,
    ADD COLUMN IF NOT EXISTS source          text,
    ADD COLUMN IF NOT EXISTS medium          text,
    ADD COLUMN IF NOT EXISTS campaign        text;
COMMENT ON COLUMN public.sessions.bot_reason IS
    'user_agent (an event''s user agent is a bot) or behaviour (more than N events in one second, or no page).';
COMMENT ON COLUMN public.sessions.source IS
    'utm_source of the landing event, else its referrer host, else (direct).';

-- Hours of events loaded before 0008, classified by the ETL a bounded batch per run.
CREATE TABLE IF NOT EXISTS public.etl_unclassified_hours (
    event_hour  timestamptz PRIMARY KEY
);
GRANT SELECT, INSERT, DELETE ON public.etl_unclassified_hours TO etl_writer;
GRANT SELECT ON public.etl_unclassified_hours TO dw_reader;

-- Reclassification runs are runs too.
ALTER TABLE public.etl_runs ADD COLUMN IF NOT EXISTS rows_reclassified bigint NOT NULL DEFAULT 0;
ALTER TABLE public.etl_runs DROP CONSTRAINT IF EXISTS etl_runs_trigger;
ALTER TABLE public.etl_runs ADD CONSTRAINT etl_runs_trigger
    CHECK (trigger IN ('schedule', 'manual', 'reclassify'));

-- is_bot joins the key of every rollup (a primary key, or a unique constraint where a
-- key column may be NULL).  Each is replaced only while it lacks is_bot: re-running
-- this file changes nothing.
DO $$
DECLARE
    item record;
BEGIN
    FOR item IN
        SELECT * FROM (VALUES
            ('hourly_event_counts', 'hourly_event_counts_pkey', 'PRIMARY KEY (event_hour, event_name, is_bot)'),
            ('daily_product_engagement', 'daily_product_engagement_pkey', 'PRIMARY KEY (day, product_id, is_bot)'),
            ('daily_funnel', 'daily_funnel_pkey', 'PRIMARY KEY (day, step_no, is_bot)'),
            ('daily_event_transitions', 'daily_event_transitions_pkey',
             'PRIMARY KEY (day, from_event_name, to_event_name, is_bot)'),
            ('daily_session_paths', 'daily_session_paths_pkey', 'PRIMARY KEY (day, path, is_bot)'),
            ('hourly_sessions', 'hourly_sessions_pkey', 'PRIMARY KEY (session_hour, is_bot)'),
            ('visitor_days', 'visitor_days_pkey', 'PRIMARY KEY (visitor_key, day, is_bot)'),
            ('daily_visitors', 'daily_visitors_day_previous_day',
             'UNIQUE NULLS NOT DISTINCT (day, previous_day, is_bot)'),
            ('daily_session_depth', 'daily_session_depth_pkey', 'PRIMARY KEY (day, depth, is_bot)'),
            ('daily_session_entry_exit', 'daily_session_entry_exit_pkey',
             'PRIMARY KEY (day, first_event_name, last_event_name, is_bot)'),
            ('daily_entry_pages', 'daily_entry_pages_day_entry_page',
             'UNIQUE NULLS NOT DISTINCT (day, entry_page, is_bot)'),
            ('daily_entry_exit_pages', 'daily_entry_exit_pages_day_pages',
             'UNIQUE NULLS NOT DISTINCT (day, entry_page, exit_page, is_bot)')
        ) AS t (table_name, constraint_name, definition)
    LOOP
        EXECUTE format('ALTER TABLE public.%I ADD COLUMN IF NOT EXISTS is_bot boolean NOT NULL DEFAULT false',
                       item.table_name);
        IF NOT EXISTS (SELECT FROM pg_constraint c
                       WHERE c.conname = item.constraint_name
                         AND pg_get_constraintdef(c.oid) LIKE '%is_bot%') THEN
            EXECUTE format('ALTER TABLE public.%I DROP CONSTRAINT IF EXISTS %I',
                           item.table_name, item.constraint_name);
            EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I %s',
                           item.table_name, item.constraint_name, item.definition);
        END IF;
    END LOOP;
END
$$;

DROP INDEX IF EXISTS public.daily_entry_exit_pages_entry_page;
CREATE INDEX IF NOT EXISTS daily_entry_exit_pages_entry_page_bot
    ON public.daily_entry_exit_pages (entry_page, day) INCLUDE (exit_page, sessions, is_bot);

-- Acquisition: sessions by the landing event's channel, source, medium and campaign.
CREATE TABLE IF NOT EXISTS public.daily_acquisition (
    day                 date    NOT NULL,
    is_bot              boolean NOT NULL,
    traffic_channel     text    NOT NULL,
    source              text    NOT NULL,
    medium              text    NOT NULL,
    campaign            text    NOT NULL,
    sessions            bigint  NOT NULL,
    visitors            bigint  NOT NULL,
    bounced             bigint  NOT NULL,
    add_to_cart         bigint  NOT NULL,
    checkout_started    bigint  NOT NULL,
    converted           bigint  NOT NULL,
    CONSTRAINT daily_acquisition_pkey
        PRIMARY KEY (day, traffic_channel, source, medium, campaign, is_bot)
);
COMMENT ON TABLE public.daily_acquisition IS
    'Sessions by the day they started and their landing channel, source / medium and campaign ((not set) when none).';

-- Technology: sessions by the landing event's device, browser and OS.
CREATE TABLE IF NOT EXISTS public.daily_technology (
    day                 date    NOT NULL,
    is_bot              boolean NOT NULL,
    device_type         text    NOT NULL,
    browser_family      text    NOT NULL,
    os_family           text    NOT NULL,
    sessions            bigint  NOT NULL,
    visitors            bigint  NOT NULL,
    add_to_cart         bigint  NOT NULL,
    checkout_started    bigint  NOT NULL,
    converted           bigint  NOT NULL,
    CONSTRAINT daily_technology_pkey
        PRIMARY KEY (day, device_type, browser_family, os_family, is_bot)
);
COMMENT ON TABLE public.daily_technology IS
    'Sessions by the day they started and their device, browser and OS ((unknown) when none).';

GRANT SELECT, INSERT, UPDATE, DELETE ON public.daily_acquisition, public.daily_technology
    TO etl_writer;
GRANT SELECT ON public.daily_acquisition, public.daily_technology TO dw_reader;

-- On the first application only: every hour with events is queued for classification
-- (which queues its rollups when done) and for a rollup refresh, which fills the new
-- keys and tables with the refresh's own SQL.
INSERT INTO public.etl_unclassified_hours (event_hour)
SELECT DISTINCT date_trunc('hour', e.event_timestamp, 'UTC')
FROM public.clickstream_events e
WHERE NOT EXISTS (SELECT FROM public.schema_migrations m
                  WHERE m.filename = '0008_visitor_classification.sql')
ON CONFLICT (event_hour) DO NOTHING;
INSERT INTO public.etl_pending_rollups (event_hour)
SELECT u.event_hour FROM public.etl_unclassified_hours u
WHERE NOT EXISTS (SELECT FROM public.schema_migrations m
                  WHERE m.filename = '0008_visitor_classification.sql')
ON CONFLICT (event_hour) DO NOTHING;

INSERT INTO public.schema_migrations (filename) VALUES ('0008_visitor_classification.sql')
ON CONFLICT (filename) DO NOTHING;

-- 0004: what the Shiny dashboards read, kept up to date incrementally by the ETL
-- (only the hours and days a run loaded events into are recomputed).
--
-- A "visitor" is coalesce(client_id, user_id).  A "session unit" for the funnel and
-- conversions is the sessionId, else the visitor (per day).

CREATE TABLE IF NOT EXISTS public.sessions (
    session_key         text        PRIMARY KEY,
    session_id          text,
    is_derived          boolean     NOT NULL,
    visitor_key         text,
    client_id           text,
    user_id             text,
    started_at          timestamptz NOT NULL,
    ended_at            timestamptz NOT NULL,
    duration_seconds    integer     NOT NULL,
    event_count         integer     NOT NULL,
    page_views          integer     NOT NULL,
    product_views       integer     NOT NULL,
    add_to_cart         integer     NOT NULL,
    entry_page          text,
    exit_page           text,
    first_event_name    text        NOT NULL,
    last_event_name     text        NOT NULL,
    is_first_visit      boolean,
    checkout_started    boolean     NOT NULL,
    converted           boolean     NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sessions_derived_has_no_id CHECK (is_derived = (session_id IS NULL))
);
COMMENT ON TABLE public.sessions IS
    'Sessions by sessionId; where it is missing, a visitor''s events split by 30 minutes of inactivity (is_derived).';
CREATE INDEX IF NOT EXISTS sessions_started_at ON public.sessions (started_at);
CREATE INDEX IF NOT EXISTS sessions_visitor_derived ON public.sessions (visitor_key) WHERE is_derived;
CREATE INDEX IF NOT EXISTS sessions_user_id ON public.sessions (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS public.hourly_event_counts (
    event_hour      timestamptz NOT NULL,
    event_name      text        NOT NULL,
    events          bigint      NOT NULL,
    unique_visitors bigint      NOT NULL,
    sessions        bigint      NOT NULL,
    CONSTRAINT hourly_event_counts_pkey PRIMARY KEY (event_hour, event_name)
);

CREATE TABLE IF NOT EXISTS public.daily_product_engagement (
    day                 date    NOT NULL,
    product_id          text    NOT NULL,
    product_name        text,
    product_category    text,
    product_brand       text,
    views               bigint  NOT NULL,
    unique_viewers      bigint  NOT NULL,
    add_to_cart         bigint  NOT NULL,
    remove_from_cart    bigint  NOT NULL,
    wishlist            bigint  NOT NULL,
    checkout_starts     bigint  NOT NULL,
    checkouts_completed bigint  NOT NULL,
    converted_sessions  bigint  NOT NULL,
    CONSTRAINT daily_product_engagement_pkey PRIMARY KEY (day, product_id)
);
COMMENT ON COLUMN public.daily_product_engagement.converted_sessions IS
    'Session units that interacted with the product and completed a checkout the same day.';
CREATE INDEX IF NOT EXISTS daily_product_engagement_category
    ON public.daily_product_engagement (product_category, day);

CREATE TABLE IF NOT EXISTS public.daily_funnel (
    day                 date    NOT NULL,
    step_no             smallint NOT NULL,
    step_name           text    NOT NULL,
    events              bigint  NOT NULL,
    sessions            bigint  NOT NULL,
    sessions_in_order   bigint  NOT NULL,
    CONSTRAINT daily_funnel_pkey PRIMARY KEY (day, step_no),
    CONSTRAINT daily_funnel_step CHECK (step_no BETWEEN 1 AND 6)
);
COMMENT ON COLUMN public.daily_funnel.sessions IS
    'Session units with this step that day, whatever came before.';
COMMENT ON COLUMN public.daily_funnel.sessions_in_order IS
    'Session units that reached this step after every previous step, in order (a strict funnel).';

GRANT SELECT, INSERT, UPDATE, DELETE
    ON public.sessions, public.hourly_event_counts, public.daily_product_engagement, public.daily_funnel
    TO etl_writer;
GRANT SELECT
    ON public.sessions, public.hourly_event_counts, public.daily_product_engagement, public.daily_funnel
    TO dw_reader;

INSERT INTO public.schema_migrations (filename) VALUES ('0004_dashboard_rollups.sql')
ON CONFLICT (filename) DO NOTHING;

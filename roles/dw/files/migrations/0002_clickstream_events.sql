-- 0002: the events table the ETL Lambda writes (docs/contracts.md#field-projection).
--
-- event_id is TEXT, not UUID: it is the client's `eventId` when one was sent, and
-- nothing guarantees a client sends a UUID; rejecting or rewriting a non-UUID id
-- would break ON CONFLICT de-duplication of client retries.  When the client sent
-- none, the ETL generates a UUIDv5 from the S3 object key and the event's index in
-- the object, so re-running an hour produces the same id and inserts nothing twice.

CREATE TABLE IF NOT EXISTS public.clickstream_events (
    event_id                        text        NOT NULL,
    event_timestamp                 timestamptz NOT NULL,
    event_name                      text        NOT NULL,
    user_id                         text,
    user_login_state                text,
    identity_source                 text,
    client_id                       text,
    session_id                      text,
    is_first_visit                  boolean,
    context_product_id              text,
    context_product_name            text,
    context_product_category        text,
    context_product_brand           text,
    context_product_price           bigint,
    context_product_discount_price  bigint,
    context_product_url_path        text,
    page_url                        text,
    referrer                        text,
    payload_extra                   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    ingest_metadata                 jsonb,
    event_id_generated              boolean     NOT NULL DEFAULT false,
    event_timestamp_source          text        NOT NULL,
    source_object_key               text        NOT NULL,
    source_event_index              integer     NOT NULL,
    etl_run_id                      bigint,
    loaded_at                       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT clickstream_events_pkey PRIMARY KEY (event_id),
    CONSTRAINT clickstream_events_event_id_length CHECK (char_length(event_id) BETWEEN 1 AND 128),
    CONSTRAINT clickstream_events_event_name_not_empty CHECK (event_name <> ''),
    CONSTRAINT clickstream_events_timestamp_source
        CHECK (event_timestamp_source IN ('ingest', 'payload', 's3')),
    CONSTRAINT clickstream_events_payload_extra_object CHECK (jsonb_typeof(payload_extra) = 'object')
);

COMMENT ON TABLE public.clickstream_events IS
    'One row per unique clickstream event, loaded exactly once by the ETL Lambda.';
COMMENT ON COLUMN public.clickstream_events.event_id IS
    'Client eventId, or a UUIDv5 of (object key, index) when the client sent none (event_id_generated).';
COMMENT ON COLUMN public.clickstream_events.event_timestamp IS
    '_ingest.receivedAt, else the payload timestamp, else the S3 LastModified (event_timestamp_source).';
COMMENT ON COLUMN public.clickstream_events.context_product_price IS
    'product.price as BIGINT; a fractional price is rounded half-up and its original kept in payload_extra.';
COMMENT ON COLUMN public.clickstream_events.payload_extra IS
    'Everything the client sent that no column holds verbatim: element, custom fields, unmapped product fields.';
COMMENT ON COLUMN public.clickstream_events.ingest_metadata IS
    'The _ingest block written by the ingest Lambda (receivedAt, sourceIp, userAgent, requestId, ...).';

-- Time-range scans (rollups, dashboards): events arrive in time order, so a BRIN
-- index is tiny and nearly free to maintain on load.
CREATE INDEX IF NOT EXISTS clickstream_events_event_timestamp_brin
    ON public.clickstream_events USING brin (event_timestamp);
-- Sessions and user journeys by sessionId.
CREATE INDEX IF NOT EXISTS clickstream_events_session
    ON public.clickstream_events (session_id, event_timestamp)
    WHERE session_id IS NOT NULL;
-- Sessions derived by the 30-minute inactivity rule where sessionId is missing.
CREATE INDEX IF NOT EXISTS clickstream_events_sessionless_visitor
    ON public.clickstream_events ((coalesce(client_id, user_id)), event_timestamp)
    WHERE session_id IS NULL;

GRANT SELECT, INSERT ON public.clickstream_events TO etl_writer;
GRANT SELECT ON public.clickstream_events TO dw_reader;

INSERT INTO public.schema_migrations (filename) VALUES ('0002_clickstream_events.sql')
ON CONFLICT (filename) DO NOTHING;

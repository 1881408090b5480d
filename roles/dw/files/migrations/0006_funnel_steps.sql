-- 0006: the funnel's steps, in order, as data: the one definition that the ETL's
-- daily_funnel refresh (etl_rollups.py), the dashboards (roles/shiny) and the tests'
-- reference queries read.  Changing the funnel is a new migration that rewrites these
-- rows and queues the days to recompute (etl_pending_rollups).
--
-- The refresh writes a session unit's day as a string of step numbers, one digit per
-- step, and matches it against 1.*2.* ... k: hence at most nine steps.
CREATE TABLE IF NOT EXISTS public.funnel_steps (
    step_no     smallint NOT NULL,
    step_name   text     NOT NULL,
    CONSTRAINT funnel_steps_pkey PRIMARY KEY (step_no),
    CONSTRAINT funnel_steps_name UNIQUE (step_name),
    CONSTRAINT funnel_steps_no CHECK (step_no BETWEEN 1 AND 9)
);
COMMENT ON TABLE public.funnel_steps IS
    'The strict funnel: step_no 1, 2, ... must each follow the previous step within a session unit''s UTC day.';

INSERT INTO public.funnel_steps (step_no, step_name) VALUES
    (1, 'home_view'),
    (2, 'category_view'),
    (3, 'product_view'),
    (4, 'add_to_cart_click'),
    (5, 'checkout_start'),
    (6, 'checkout_complete')
ON CONFLICT (step_no) DO NOTHING;

-- daily_funnel's steps are the table's, not a range written in 0004.
ALTER TABLE public.daily_funnel DROP CONSTRAINT IF EXISTS daily_funnel_step;
ALTER TABLE public.daily_funnel DROP CONSTRAINT IF EXISTS daily_funnel_step_no_fkey;
ALTER TABLE public.daily_funnel ADD CONSTRAINT daily_funnel_step_no_fkey
    FOREIGN KEY (step_no) REFERENCES public.funnel_steps (step_no);

GRANT SELECT ON public.funnel_steps TO etl_writer, dw_reader;

INSERT INTO public.schema_migrations (filename) VALUES ('0006_funnel_steps.sql')
ON CONFLICT (filename) DO NOTHING;

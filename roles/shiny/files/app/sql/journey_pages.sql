-- User journeys: the 15 most common entry pages of sessions started in $1..$2, with
-- their bounce rate (one event), conversion and most common exit page (ties: the first
-- in sort order, as mode() picks).  Bot sessions only when $3: both classes are added
-- before the pages and their exits are ranked.
WITH top AS (
    SELECT p.entry_page, sum(p.sessions) AS sessions, sum(p.bounced) AS bounced,
           sum(p.converted) AS converted,
           sum(p.duration_seconds)::float8 / sum(p.sessions) AS avg_duration_seconds
    FROM public.daily_entry_pages p
    WHERE p.day BETWEEN $1::date AND $2::date AND (NOT p.is_bot OR $3::boolean)
    GROUP BY p.entry_page
    ORDER BY sessions DESC, coalesce(p.entry_page, '(unknown)')
    LIMIT 15
)
SELECT coalesce(t.entry_page, '(unknown)') AS entry_page, t.sessions::float8 AS sessions,
       t.bounced::float8 AS bounced, t.converted::float8 AS converted,
       t.avg_duration_seconds,
       (SELECT x.exit_page
          FROM (SELECT e.exit_page, e.sessions FROM public.daily_entry_exit_pages e
                 WHERE e.entry_page = t.entry_page AND e.day BETWEEN $1::date AND $2::date
                   AND (NOT e.is_bot OR $3::boolean)
                UNION ALL
                SELECT e.exit_page, e.sessions FROM public.daily_entry_exit_pages e
                 WHERE t.entry_page IS NULL AND e.entry_page IS NULL
                   AND e.day BETWEEN $1::date AND $2::date
                   AND (NOT e.is_bot OR $3::boolean)) x
         GROUP BY x.exit_page
         ORDER BY sum(x.sessions) DESC, x.exit_page
         LIMIT 1) AS top_exit_page
FROM top t
ORDER BY t.sessions DESC, 1;

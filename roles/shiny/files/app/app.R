# Clickstream analytics dashboards (R Shiny).
#
# Reads only what the ETL maintains for dashboards (the rollups of migrations 0004,
# 0005 and 0008: hourly_event_counts, hourly_sessions, daily_visitors, daily_funnel,
# daily_product_engagement, daily_session_*, daily_entry_*, daily_event_transitions,
# daily_acquisition, daily_technology; never the sessions table row by row) and its
# bookkeeping (etl_runs, etl_manifest, etl_rejects, etl_pending_rollups), never the raw
# events table.  The queries are the files of sql/; R/db.R connects as the read-only
# dw_reader.  Every date is a UTC day; the date filter at the top applies to every tab
# but Pipeline health's runs and rejects.  Bots are left out unless "Include bots" is on
# (every tab): events by their user agent, sessions by the session's class (a bot's user
# agent, or its behaviour).

suppressPackageStartupMessages({
  library(shiny)
  library(ggplot2)
  library(DT)
})

Sys.setenv(TZ = "UTC")

STYLE <- "
.filter-bar { display: flex; gap: 1.5rem; align-items: flex-end; flex-wrap: wrap;
  padding: .5rem 0 0 0; }
.filter-bar .form-group { margin-bottom: .5rem; }
.notice { padding: .75rem 1rem; border-radius: .375rem; margin: .5rem 0 1rem 0;
  background: #fff3cd; border: 1px solid #ffe69c; }
.kpis { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
.kpi { flex: 1 1 12rem; padding: .75rem 1rem; border: 1px solid #dee2e6;
  border-radius: .5rem; background: #f8f9fa; }
.kpis.pipeline .kpi { flex-basis: 9rem; }
.kpi-label { font-size: .85rem; color: #6c757d; }
.kpi-value { font-size: 1.6rem; font-weight: 600; }
.kpi-delta { font-size: .8rem; }
.kpi-delta.up { color: #198754; } .kpi-delta.down { color: #dc3545; }
.kpi-delta.flat { color: #6c757d; }
.kpi.warn { border-color: #dc3545; background: #f8d7da; }
.section-note { color: #6c757d; font-size: .9rem; }
table.table { font-size: .9rem; }
"

ui <- navbarPage(
  title = "Clickstream analytics",
  id = "tabs",
  theme = bslib::bs_theme(version = 5),
  header = tagList(
    tags$head(tags$style(HTML(STYLE))),
    div(
      class = "container-fluid",
      div(
        class = "filter-bar",
        uiOutput("filters"),
        checkboxInput("bots", "Include bots", value = FALSE, width = "auto"),
        actionButton("refresh", "Refresh", class = "btn-sm btn-outline-secondary mb-2")
      ),
      uiOutput("data_notice")
    )
  ),
  tabPanel(
    "Overview",
    value = "overview",
    uiOutput("kpis"),
    radioButtons("grain", NULL, c("By hour" = "hour", "By day" = "day"),
                 selected = "hour", inline = TRUE),
    plotOutput("activity_chart", height = "340px"),
    fluidRow(
      column(7, plotOutput("trend_chart", height = "320px")),
      column(5, plotOutput("event_mix_chart", height = "320px"))
    ),
    h5("By day"),
    p(class = "section-note",
      "Sessions and visitors count sessions by the hour or day they started; the",
      "previous period is the same number of days just before the chosen range."),
    tableOutput("overview_daily_table")
  ),
  tabPanel(
    "Acquisition",
    value = "acquisition",
    p(class = "section-note",
      "Sessions by the source of their first event: its utm_source, utm_medium and",
      "utm_campaign, else the referrer; the channel follows GA4's default groups. Sessions",
      "count by the day they started, next to the previous period of the same length;",
      "add to cart, checkout started and converted count sessions that did so."),
    plotOutput("acquisition_chart", height = "320px"),
    h5("By channel"),
    tableOutput("acquisition_channels_table"),
    h5("By source / medium"),
    tableOutput("acquisition_sources_table"),
    h5("By campaign"),
    tableOutput("acquisition_campaigns_table")
  ),
  tabPanel(
    "Technology",
    value = "technology",
    p(class = "section-note",
      "Sessions by the device, browser and operating system of their first event's user",
      "agent, by the day they started; conversion: sessions that completed a checkout."),
    fluidRow(
      column(6, plotOutput("technology_chart", height = "300px")),
      column(6, h5("By device type"), tableOutput("technology_devices_table"))
    ),
    fluidRow(
      column(6, h5("By browser"), tableOutput("technology_browsers_table")),
      column(6, h5("By operating system"), tableOutput("technology_os_table"))
    )
  ),
  tabPanel(
    "Funnel",
    value = "funnel",
    p(class = "section-note",
      "A session reaches a step when it had every previous step before it, in order",
      "(a strict funnel), within one UTC day; counts are summed over the days."),
    fluidRow(
      column(6, plotOutput("funnel_chart", height = "360px")),
      column(6, tableOutput("funnel_table"))
    ),
    plotOutput("funnel_daily_chart", height = "320px"),
    h5("By day"),
    tableOutput("funnel_daily_table")
  ),
  tabPanel(
    "Product engagement",
    value = "products",
    plotOutput("category_chart", height = "320px"),
    p(class = "section-note",
      "Viewers are summed over days. Cart rate: add-to-cart per view. Conversion:",
      "sessions that touched the product and completed a checkout the same day, per viewer."),
    DTOutput("products_table")
  ),
  tabPanel(
    "User journeys",
    value = "journeys",
    fluidRow(
      column(6, h5("Through the funnel, with drop-offs"),
             plotOutput("journey_funnel_sankey", height = "380px")),
      column(6, h5("How sessions start and end"),
             plotOutput("journey_entry_exit_sankey", height = "380px"))
    ),
    fluidRow(
      column(7, h5("Entry pages"), tableOutput("journey_pages_table")),
      column(5, h5("Events per session"), plotOutput("journey_depth_chart", height = "320px"))
    ),
    h5("Most common paths"),
    tableOutput("journey_paths_table"),
    fluidRow(
      column(7, h5("Next steps: what follows each event"),
             plotOutput("journey_next_steps_sankey", height = "420px")),
      column(5, h5("Most common next steps"), tableOutput("journey_next_steps_table"))
    ),
    p(class = "section-note",
      "Sessions count by the day they started. Paths are a session's first four events",
      "within one UTC day; next steps pair consecutive events of a session within one",
      "UTC day, (exit) meaning nothing followed that day.")
  ),
  tabPanel(
    "Pipeline health",
    value = "pipeline",
    p(class = "section-note", "Not filtered by dates: the most recent ETL runs and rejects."),
    uiOutput("pipeline_status"),
    p(class = "section-note",
      "In the chosen dates, whatever \"Include bots\" says: sessions that are bots by a user",
      "agent or by their behaviour, and events sent with a bot's user agent."),
    uiOutput("pipeline_bots"),
    plotOutput("pipeline_chart", height = "280px"),
    h5("Recent runs"),
    tableOutput("pipeline_runs_table"),
    h5("Recent rejects"),
    uiOutput("pipeline_rejects_note"),
    tableOutput("pipeline_rejects_table")
  )
)

server <- function(input, output, session) {
  db <- dw_client()
  session$onSessionEnded(db$close)

  query <- function(name, range = NULL, bots = NULL) {
    force(range)  # a validation message of the date filter is not a database error
    tryCatch(db$run(name, range, bots), error = function(e) {
      validate(need(FALSE, paste("Cannot read the data warehouse:", conditionMessage(e))))
    })
  }

  span <- reactive({
    input$refresh
    query("data_range")
  })
  has_data <- reactive(!is.na(span()$last_hour[1]))

  # Rendered once: a refresh keeps the analyst's dates.
  output$filters <- renderUI({
    s <- isolate(span())
    last <- if (!is.na(s$last_hour[1])) as.Date(substr(s$last_hour[1], 1, 10)) else
      as.Date(format(Sys.time(), tz = "UTC"))
    first_data <- if (!is.na(s$first_hour[1])) as.Date(substr(s$first_hour[1], 1, 10)) else last
    tagList(
      dateRangeInput("range", "Dates (UTC)", start = max(first_data, last - 6), end = last,
                     weekstart = 1, separator = "to"),
      # Debian's bootstrap-datepicker still calls $.fn.datepicker once the page is
      # ready, after Shiny renamed it to bsDatepicker: give it the name back.
      tags$script(HTML("if ($.fn.bsDatepicker && !$.fn.datepicker) $.fn.datepicker = $.fn.bsDatepicker;"))
    )
  })

  output$data_notice <- renderUI({
    if (has_data()) return(NULL)
    div(class = "notice", id = "no-data", strong("No data yet. "), NO_DATA)
  })

  range <- reactive({
    validate(need(has_data(), NO_DATA))
    req(input$range)
    r <- as.Date(input$range)
    validate(
      need(!anyNA(r), "Choose a first and a last day."),
      need(r[1] <= r[2], "The first day must not be after the last day."),
      need(as.numeric(r[2] - r[1]) < 366, "Choose at most 366 days.")
    )
    r
  })

  # One reactive per query: each runs once per change of dates, of the bots switch (or
  # Refresh).
  bots <- reactive(isTRUE(input$bots))
  ranged <- function(name) {
    reactive({
      input$refresh
      query(name, range(), bots())
    })
  }
  kpis <- ranged("overview_kpis")
  hourly <- ranged("overview_hourly")
  daily <- ranged("overview_daily")
  event_mix <- ranged("event_mix")
  funnel_steps <- ranged("funnel_steps")
  funnel_daily <- ranged("funnel_daily")
  products <- ranged("products")
  categories <- ranged("product_categories")
  entry_exit <- ranged("journey_entry_exit")
  pages <- ranged("journey_pages")
  depth <- ranged("journey_depth")
  next_steps <- ranged("journey_next_steps")
  paths <- ranged("journey_paths")
  channels <- ranged("acquisition_channels")
  sources <- ranged("acquisition_sources")
  campaigns <- ranged("acquisition_campaigns")
  technology <- ranged("technology")
  bot_share <- reactive({
    input$refresh
    query("pipeline_bots", range())
  })
  pipeline <- function(name) {
    reactive({
      input$refresh
      query(name)
    })
  }
  pipeline_status <- pipeline("pipeline_status")
  pipeline_runs <- pipeline("pipeline_runs")
  pipeline_rejects <- pipeline("pipeline_rejects")

  in_range <- function(d) {
    r <- range()
    validate(need(nrow(d) > 0, sprintf("No events between %s and %s.", r[1], r[2])))
    d
  }

  # -- Overview ----------------------------------------------------------------
  output$kpis <- renderUI({
    k <- kpis()
    cur <- k[k$period == "current", ]
    prev <- k[k$period == "previous", ]
    validate(need(cur$events > 0, sprintf("No events between %s and %s.",
                                          cur$first_day, cur$last_day)))
    conv <- ratio(cur$converted, cur$sessions)
    prev_conv <- ratio(prev$converted, prev$sessions)
    conv_delta <- if (is.na(prev_conv)) list(text = "no previous data", class = "flat") else
      list(text = sprintf("%+.1f points vs previous period (%s)",
                          100 * (conv - prev_conv), fmt_pct(prev_conv)),
           class = if (conv > prev_conv) "up" else if (conv < prev_conv) "down" else "flat")
    div(
      class = "kpis",
      kpi_card("kpi-events", "Events", cur$events, fmt_int(cur$events),
               delta_text(cur$events, prev$events)),
      kpi_card("kpi-sessions", "Sessions", cur$sessions, fmt_int(cur$sessions),
               delta_text(cur$sessions, prev$sessions)),
      kpi_card("kpi-visitors", "Users (visitors)", cur$visitors, fmt_int(cur$visitors),
               delta_text(cur$visitors, prev$visitors)),
      kpi_card("kpi-conversion", "Session conversion", round(conv, 6), fmt_pct(conv, 2),
               conv_delta),
      kpi_card("kpi-bounce", "Bounce rate", round(ratio(cur$bounced, cur$sessions), 6),
               fmt_pct(ratio(cur$bounced, cur$sessions))),
      kpi_card("kpi-duration", "Average session", cur$avg_duration_seconds,
               fmt_duration(cur$avg_duration_seconds))
    )
  })

  output$activity_chart <- renderPlot({
    d <- in_range(if (input$grain == "hour") hourly() else daily())
    x <- if (input$grain == "hour") as.POSIXct(d$period, format = "%Y-%m-%d %H:%M", tz = "UTC")
      else as.Date(d$day)
    line_chart(series_frame(x, Events = d$events, Sessions = d$sessions, Users = d$visitors),
               paste("Activity by", input$grain))
  })

  output$trend_chart <- renderPlot({
    d <- in_range(daily())
    line_chart(series_frame(as.Date(d$day), `Events` = d$events,
                            `Events, previous period` = d$previous_events,
                            `Sessions` = d$sessions,
                            `Sessions, previous period` = d$previous_sessions),
               "Against the previous period (same weekday offset)") +
      scale_colour_manual(values = c("#0d6efd", "#9ec5fe", "#198754", "#a3cfbb"))
  })

  output$event_mix_chart <- renderPlot({
    d <- in_range(event_mix())
    d$event_name <- factor(d$event_name, levels = rev(d$event_name))
    ggplot(d, aes(events, event_name)) +
      geom_col(fill = "#0d6efd") +
      scale_x_continuous(labels = scales::label_comma()) +
      labs(title = "Events by name", x = NULL, y = NULL) +
      theme_dashboard()
  })

  output$overview_daily_table <- renderTable({
    d <- in_range(daily())
    data.frame(
      Day = d$day,
      Events = fmt_int(d$events),
      Sessions = fmt_int(d$sessions),
      Users = fmt_int(d$visitors),
      `Converted sessions` = fmt_int(d$converted),
      `Events, previous period` = fmt_int(d$previous_events),
      `Change` = vapply(seq_len(nrow(d)), function(i)
        delta_text(d$events[i], d$previous_events[i])$text, ""),
      check.names = FALSE
    )
  }, striped = TRUE, hover = TRUE, align = "lrrrrrl")

  # -- Acquisition -------------------------------------------------------------
  # acquisition_*.sql's rows, when the chosen days have sessions.
  with_sessions <- function(d) {
    d <- in_range(d)
    r <- range()
    validate(need(sum(d$sessions) > 0, sprintf("No sessions between %s and %s.", r[1], r[2])))
    d
  }

  # A breakdown of acquisition_*.sql as a table: its label columns, then the figures of
  # the period and of the previous one.
  acquisition_table <- function(d, labels) {
    cbind(labels, data.frame(
      Sessions = fmt_int(d$sessions),
      `Previous period` = fmt_int(d$previous_sessions),
      Change = fmt_change(d$sessions, d$previous_sessions),
      Bounce = fmt_pct(ratio(d$bounced, d$sessions)),
      `Add to cart` = fmt_int(d$add_to_cart),
      `Checkout started` = fmt_int(d$checkout_started),
      Converted = fmt_int(d$converted),
      Conversion = fmt_pct(ratio(d$converted, d$sessions), 2),
      `Previous conversion` = fmt_pct(ratio(d$previous_converted, d$previous_sessions), 2),
      check.names = FALSE
    ))
  }

  output$acquisition_chart <- renderPlot({
    d <- with_sessions(channels())
    labels <- channel_label(d$channel)
    frame <- series_frame(factor(labels, levels = rev(labels)), Sessions = d$sessions,
                          `Sessions, previous period` = d$previous_sessions)
    # dodged bars stack upwards: the previous period first puts the current one on top
    frame$series <- factor(frame$series, levels = c("Sessions, previous period", "Sessions"))
    ggplot(frame, aes(value, x, fill = series)) +
      geom_col(position = "dodge") +
      scale_fill_manual(values = c(Sessions = "#0d6efd", `Sessions, previous period` = "#9ec5fe"),
                        breaks = c("Sessions", "Sessions, previous period")) +
      scale_x_continuous(labels = scales::label_comma()) +
      labs(title = "Sessions by channel, against the previous period", x = NULL, y = NULL) +
      theme_dashboard()
  })

  output$acquisition_channels_table <- renderTable({
    d <- with_sessions(channels())
    acquisition_table(d, data.frame(Channel = channel_label(d$channel)))
  }, striped = TRUE, hover = TRUE, align = "lrrrrrrrrr")

  output$acquisition_sources_table <- renderTable({
    d <- with_sessions(sources())
    acquisition_table(d, data.frame(Source = d$source, Medium = d$medium))
  }, striped = TRUE, hover = TRUE, align = "llrrrrrrrrr")

  output$acquisition_campaigns_table <- renderTable({
    d <- with_sessions(campaigns())
    acquisition_table(d, data.frame(Campaign = d$campaign))
  }, striped = TRUE, hover = TRUE, align = "lrrrrrrrrr")

  # -- Technology --------------------------------------------------------------
  # technology.sql's rows of one dimension: device, browser or os.
  technology_rows <- function(dimension) {
    d <- with_sessions(technology())
    d[d$dimension == dimension, ]
  }

  technology_table <- function(dimension, label) {
    d <- technology_rows(dimension)
    out <- data.frame(
      d$value,
      Sessions = fmt_int(d$sessions),
      `Of all sessions` = fmt_pct(ratio(d$sessions, sum(d$sessions))),
      `Add to cart` = fmt_int(d$add_to_cart),
      `Checkout started` = fmt_int(d$checkout_started),
      Converted = fmt_int(d$converted),
      Conversion = fmt_pct(ratio(d$converted, d$sessions), 2),
      check.names = FALSE
    )
    names(out)[1] <- label
    out
  }

  output$technology_chart <- renderPlot({
    d <- technology_rows("device")
    d$value <- factor(d$value, levels = rev(d$value))
    d$label <- sprintf("%s \u00b7 %s converted", fmt_int(d$sessions),
                       fmt_pct(ratio(d$converted, d$sessions), 2))
    ggplot(d, aes(sessions, value)) +
      geom_col(fill = "#0d6efd") +
      geom_text(aes(label = label), hjust = -0.1, size = 3.5) +
      scale_x_continuous(labels = scales::label_comma(), expand = expansion(mult = c(0, 0.4))) +
      labs(title = "Sessions by device type", x = NULL, y = NULL) +
      theme_dashboard()
  })

  output$technology_devices_table <- renderTable(
    technology_table("device", "Device type"),
    striped = TRUE, hover = TRUE, align = "lrrrrrr"
  )
  output$technology_browsers_table <- renderTable(
    technology_table("browser", "Browser"),
    striped = TRUE, hover = TRUE, align = "lrrrrrr"
  )
  output$technology_os_table <- renderTable(
    technology_table("os", "Operating system"),
    striped = TRUE, hover = TRUE, align = "lrrrrrr"
  )

  # -- Funnel ------------------------------------------------------------------
  funnel_frame <- reactive({
    f <- in_range(funnel_steps())
    validate(need(sum(f$sessions) > 0, "No funnel events in the chosen days."))
    f
  })

  output$funnel_chart <- renderPlot({
    f <- funnel_frame()
    f$step_name <- factor(f$step_name, levels = rev(f$step_name))
    f$share <- fmt_pct(ratio(f$sessions_in_order, f$sessions_in_order[1]))
    ggplot(f, aes(sessions_in_order, step_name)) +
      geom_col(fill = "#0d6efd") +
      geom_text(aes(label = paste(fmt_int(sessions_in_order), "·", share)), hjust = -0.1,
                size = 3.5) +
      scale_x_continuous(labels = scales::label_comma(), expand = expansion(mult = c(0, 0.3))) +
      labs(title = "Sessions reaching each step, in order", x = NULL, y = NULL) +
      theme_dashboard()
  })

  output$funnel_table <- renderTable({
    f <- funnel_frame()
    previous <- c(NA, head(f$sessions_in_order, -1))
    data.frame(
      Step = paste0(f$step_no, ". ", f$step_name),
      `Sessions in order` = fmt_int(f$sessions_in_order),
      `Of first step` = fmt_pct(ratio(f$sessions_in_order, f$sessions_in_order[1])),
      `Of previous step` = fmt_pct(ratio(f$sessions_in_order, previous)),
      `Sessions with step` = fmt_int(f$sessions),
      Events = fmt_int(f$events),
      check.names = FALSE
    )
  }, striped = TRUE, hover = TRUE, align = "lrrrrr")

  # funnel_daily's rows (day, step) as a matrix: a row per day, a column per step of
  # public.funnel_steps in step order.
  funnel_by_day <- reactive({
    d <- in_range(funnel_daily())
    steps <- unique(d$step_name[order(d$step_no)])
    days <- unique(d$day)
    counts <- matrix(NA_real_, length(days), length(steps), dimnames = list(days, steps))
    counts[cbind(match(d$day, days), match(d$step_name, steps))] <- d$sessions_in_order
    counts
  })

  output$funnel_daily_chart <- renderPlot({
    counts <- funnel_by_day()
    steps <- colnames(counts)
    shares <- lapply(steps[-1], function(step) 100 * ratio(counts[, step], counts[, 1]))
    names(shares) <- paste(steps[1], "\u2192", steps[-1])
    frame <- do.call(series_frame, c(list(as.Date(rownames(counts))), shares))
    line_chart(frame, sprintf("Reached in order, of %s sessions, by day (%%)", steps[1]), "%")
  })

  output$funnel_daily_table <- renderTable({
    counts <- funnel_by_day()
    out <- data.frame(Day = rownames(counts), check.names = FALSE)
    for (step in colnames(counts)) out[[step]] <- fmt_int(counts[, step])
    out$Conversion <- fmt_pct(ratio(counts[, ncol(counts)], counts[, 1]), 2)
    out
  }, striped = TRUE, hover = TRUE, align = "lrrrrrrr")

  # -- Product engagement ------------------------------------------------------
  output$category_chart <- renderPlot({
    d <- in_range(categories())
    frame <- series_frame(d$category, Views = d$views, `Add to cart` = d$add_to_cart,
                          Wishlist = d$wishlist, `Converted sessions` = d$converted_sessions)
    frame$x <- factor(frame$x, levels = d$category)
    frame$series <- factor(frame$series, levels = unique(frame$series))
    ggplot(frame, aes(x, value, fill = series)) +
      geom_col(position = "dodge") +
      scale_y_continuous(labels = scales::label_comma()) +
      labs(title = "By category", x = NULL, y = NULL) +
      theme_dashboard()
  })

  output$products_table <- renderDT({
    d <- in_range(products())
    table <- data.frame(
      Product = d$product_id, Name = d$product_name, Category = d$category, Brand = d$brand,
      Views = d$views, Viewers = d$viewers, `Add to cart` = d$add_to_cart,
      `Cart rate` = ratio(d$add_to_cart, d$views), Removed = d$remove_from_cart,
      Wishlist = d$wishlist, `Checkout starts` = d$checkout_starts,
      `Converted sessions` = d$converted_sessions,
      Conversion = ratio(d$converted_sessions, d$viewers),
      check.names = FALSE
    )
    # Debian's DT lacks the column filters' libraries and the Bootstrap styling files
    datatable(table, rownames = FALSE, style = "default", class = "display compact",
              options = list(pageLength = 15, order = list(list(4, "desc")))) |>
      formatRound(c("Views", "Viewers", "Add to cart", "Removed", "Wishlist",
                    "Checkout starts", "Converted sessions"), digits = 0) |>
      formatPercentage(c("Cart rate", "Conversion"), digits = 1)
  })

  # -- User journeys -----------------------------------------------------------
  output$journey_funnel_sankey <- renderPlot({
    f <- funnel_frame()
    n <- nrow(f)
    kept <- f$sessions_in_order
    left <- paste("left after", f$step_name[-n])
    nodes <- data.frame(name = c(f$step_name, left), column = c(seq_len(n), seq_len(n - 1) + 1))
    links <- data.frame(source = c(f$step_name[-n], f$step_name[-n]),
                        target = c(f$step_name[-1], left),
                        value = c(kept[-1], kept[-n] - kept[-1]))
    sankey_chart(nodes, links, "Sessions through the funnel, in order")
  })

  output$journey_entry_exit_sankey <- renderPlot({
    d <- in_range(entry_exit())
    pairs_sankey(paste("start:", d$first_event_name), paste("end:", d$last_event_name),
                 d$sessions, "First event → last event (the 25 most common pairs)")
  })

  output$journey_pages_table <- renderTable({
    d <- in_range(pages())
    data.frame(
      `Entry page` = url_path(d$entry_page), Sessions = fmt_int(d$sessions),
      Bounce = fmt_pct(ratio(d$bounced, d$sessions)),
      Conversion = fmt_pct(ratio(d$converted, d$sessions)),
      `Avg duration` = fmt_duration(d$avg_duration_seconds),
      `Most common exit` = url_path(d$top_exit_page), check.names = FALSE
    )
  }, striped = TRUE, hover = TRUE, align = "lrrrrl")

  output$journey_paths_table <- renderTable({
    d <- in_range(paths())
    data.frame(
      Path = d$path, Sessions = fmt_int(d$sessions), `Of all sessions` = fmt_pct(d$share),
      Conversion = fmt_pct(ratio(d$converted, d$sessions)), check.names = FALSE
    )
  }, striped = TRUE, hover = TRUE, align = "lrrr")

  output$journey_next_steps_sankey <- renderPlot({
    d <- in_range(next_steps())
    d <- head(d, 20)
    targets <- ifelse(d$to_event_name == "(exit)", "end: (exit)", paste("to:", d$to_event_name))
    pairs_sankey(paste("from:", d$from_event_name), targets, d$transitions,
                 "Event → next event (the 20 most common pairs)")
  })

  output$journey_next_steps_table <- renderTable({
    d <- in_range(next_steps())
    data.frame(
      Event = d$from_event_name, `Next event` = d$to_event_name,
      Times = fmt_int(d$transitions), `Of the event's next steps` = fmt_pct(d$share),
      check.names = FALSE
    )
  }, striped = TRUE, hover = TRUE, align = "llrr")

  output$journey_depth_chart <- renderPlot({
    d <- in_range(depth())
    d$depth <- factor(d$depth, levels = d$depth)
    frame <- series_frame(d$depth, Sessions = d$sessions, Converted = d$converted)
    ggplot(frame, aes(x, value, fill = series)) +
      geom_col(position = "identity") +
      scale_fill_manual(values = c(Sessions = "#9ec5fe", Converted = "#198754")) +
      scale_y_continuous(labels = scales::label_comma()) +
      labs(x = "events in the session", y = NULL) +
      theme_dashboard()
  })

  # -- Pipeline health ---------------------------------------------------------
  output$pipeline_status <- renderUI({
    s <- pipeline_status()
    validate(need(!is.na(s$newest_hour[1]),
                  "No data yet: the ETL has not loaded any object."))
    lag <- s$lag_hours
    lag_text <- if (lag < 1) "up to date" else sprintf("%.1f hours behind", lag)
    card <- function(id, label, shown, warn = FALSE) {
      div(class = paste("kpi", if (warn) "warn"), id = id,
          div(class = "kpi-label", label), div(class = "kpi-value", shown))
    }
    div(
      class = "kpis pipeline",
      card("pipeline-newest", "Newest loaded hour (UTC)", s$newest_hour),
      card("pipeline-lag", "Lag behind now", lag_text, warn = lag > 2),
      card("pipeline-last-success", "Last successful run (UTC)",
           ifelse(is.na(s$last_success), "never", s$last_success), warn = is.na(s$last_success)),
      card("pipeline-failed", "Failed runs, last 24 h", fmt_int(s$failed_24h),
           warn = s$failed_24h > 0),
      card("pipeline-pending", "Hours waiting for rollups", fmt_int(s$pending_rollup_hours),
           warn = s$pending_rollup_hours > 0),
      card("pipeline-stuck", "Runs running over an hour", fmt_int(s$stuck_runs),
           warn = s$stuck_runs > 0),
      card("pipeline-events", "Events loaded, last 24 h",
           if (s$events_rejected_24h > 0) {
             sprintf("%s (%s rejected)", fmt_int(s$events_loaded_24h),
                     fmt_int(s$events_rejected_24h))
           } else fmt_int(s$events_loaded_24h),
           warn = s$events_rejected_24h > 0)
    )
  })

  output$pipeline_bots <- renderUI({
    b <- bot_share()
    r <- range()
    validate(need(b$events > 0, sprintf("No events between %s and %s.", r[1], r[2])))
    share_card <- function(id, label, part, whole, unit) {
      share <- ratio(part, whole)
      kpi_card(id, label, round(share, 6), fmt_pct(share),
               list(text = sprintf("%s of %s %s", fmt_int(part), fmt_int(whole), unit),
                    class = "flat"))
    }
    div(
      class = "kpis pipeline",
      share_card("pipeline-bot-sessions", "Bot share of sessions", b$bot_sessions, b$sessions,
                 "sessions"),
      share_card("pipeline-bot-events", "Bot share of events", b$bot_events, b$events, "events")
    )
  })

  output$pipeline_chart <- renderPlot({
    r <- pipeline_runs()
    validate(need(nrow(r) > 0, "No ETL run yet."))
    r <- r[order(r$run_id), ]
    r$run <- factor(paste0("#", r$run_id), levels = paste0("#", r$run_id))
    frame <- series_frame(r$run, `Events read` = r$events_read,
                          `Rows inserted` = r$rows_inserted,
                          `Events rejected` = r$events_rejected,
                          `Duration (s)` = r$duration_ms / 1000)
    frame$series <- factor(frame$series, levels = unique(frame$series))
    ggplot(frame, aes(x, value)) +
      geom_col(fill = "#0d6efd") +
      facet_wrap(~series, scales = "free_y", ncol = 4) +
      labs(title = "Recent runs", x = NULL, y = NULL) +
      theme_dashboard()
  })

  output$pipeline_runs_table <- renderTable({
    r <- pipeline_runs()
    validate(need(nrow(r) > 0, "No ETL run yet."))
    data.frame(
      Run = fmt_int(r$run_id), Started = r$started, Trigger = r$trigger, Status = r$status,
      Hours = r$hours, Objects = fmt_int(r$objects_seen), Loaded = fmt_int(r$objects_loaded),
      `Objects rejected` = fmt_int(r$objects_rejected), Events = fmt_int(r$events_read),
      `Events rejected` = fmt_int(r$events_rejected),
      `Rows inserted` = fmt_int(r$rows_inserted), Duplicates = fmt_int(r$rows_duplicate),
      Duration = ifelse(is.na(r$duration_ms), "\u2013", sprintf("%.1f s", r$duration_ms / 1000)),
      Error = r$error, check.names = FALSE
    )
  }, striped = TRUE, hover = TRUE)

  output$pipeline_rejects_note <- renderUI({
    if (nrow(pipeline_rejects()) == 0) p(id = "no-rejects", "No rejected objects or events.")
  })

  output$pipeline_rejects_table <- renderTable({
    j <- pipeline_rejects()
    if (nrow(j) == 0) return(NULL)
    data.frame(
      Rejected = j$rejected, Run = fmt_int(j$run_id), Object = j$object_key,
      Event = j$event, Reason = j$reason, Excerpt = substr(j$excerpt, 1, 120),
      check.names = FALSE
    )
  }, striped = TRUE)
}

shinyApp(ui, server)

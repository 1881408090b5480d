# Formatting and small UI pieces shared by the tabs.

NO_DATA <- paste(
  "No data yet: the warehouse holds no clickstream events.",
  "The dashboards fill in after the ETL's first load (hourly, or on demand with",
  "playbooks/etl_rerun.yml)."
)

fmt_int <- function(x) {
  ifelse(is.na(x), "\u2013", format(round(x), big.mark = ",", scientific = FALSE, trim = TRUE))
}

fmt_pct <- function(x, digits = 1) {
  ifelse(is.na(x) | !is.finite(x), "\u2013", sprintf(paste0("%.", digits, "f%%"), 100 * x))
}

# part / whole, NA where whole is 0 or missing; whole may be one number for all parts.
ratio <- function(part, whole) {
  whole <- rep_len(whole, length(part))
  out <- part / whole
  out[is.na(whole) | whole == 0] <- NA_real_
  out
}

fmt_duration <- function(seconds) {
  ifelse(
    is.na(seconds), "\u2013",
    ifelse(seconds < 60, sprintf("%.0f s", seconds), sprintf("%.1f min", seconds / 60))
  )
}

# The change of a figure against the previous period, as text and a direction.
delta_text <- function(current, previous) {
  if (is.na(previous) || previous == 0) {
    return(list(text = "no previous data", class = "flat"))
  }
  change <- (current - previous) / previous
  arrow <- if (change > 0) "\u25b2" else if (change < 0) "\u25bc" else "\u25c6"
  list(
    text = sprintf("%s %s vs previous period (%s)", arrow, fmt_pct(abs(change)), fmt_int(previous)),
    class = if (change > 0) "up" else if (change < 0) "down" else "flat"
  )
}

# The change of a figure against the previous period, short, for a table's cell.
fmt_change <- function(current, previous) {
  ifelse(is.na(previous) | previous == 0, "\u2013",
         sprintf("%+.1f%%", 100 * (current - previous) / previous))
}

# The names of migration 0008's traffic channels, as people read them.
CHANNEL_LABELS <- c(
  direct = "Direct", organic_search = "Organic search", paid_search = "Paid search",
  organic_social = "Organic social", paid_social = "Paid social", email = "Email",
  referral = "Referral", internal = "Internal", other = "Other"
)

channel_label <- function(channel) {
  ifelse(channel %in% names(CHANNEL_LABELS), CHANNEL_LABELS[channel], channel)
}

# A figure card: the test reads data-value, people read the text.
kpi_card <- function(id, label, value, shown, delta = NULL) {
  shiny::div(
    class = "kpi", id = id,
    shiny::div(class = "kpi-label", label),
    shiny::div(class = "kpi-value", `data-value` = format(value, scientific = FALSE), shown),
    if (!is.null(delta)) shiny::div(class = paste("kpi-delta", delta$class), delta$text)
  )
}

# A page URL without scheme and host, for tables.
url_path <- function(url) {
  sub("^[a-z]+://[^/]+", "", url)
}

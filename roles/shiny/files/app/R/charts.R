# Charts drawn on the server with ggplot2 (PNG): Debian's plotly package pairs its R
# binding with plotly.js 1.31, which the binding no longer works with.

theme_dashboard <- function() {
  ggplot2::theme_minimal(base_size = 13) +
    ggplot2::theme(legend.position = "bottom", legend.title = ggplot2::element_blank(),
                   plot.title = ggplot2::element_text(face = "bold", size = 13),
                   panel.grid.minor = ggplot2::element_blank())
}

# Long format for several series over one x: data.frame(x, series, value).
series_frame <- function(x, ...) {
  columns <- list(...)
  do.call(rbind, lapply(names(columns), function(label) {
    data.frame(x = x, series = label, value = columns[[label]])
  }))
}

line_chart <- function(frame, title, y_label = NULL) {
  frame$series <- factor(frame$series, levels = unique(frame$series))
  ggplot2::ggplot(frame, ggplot2::aes(x, value, colour = series)) +
    ggplot2::geom_line(linewidth = 0.9) +
    # A line needs two points: a range of one hour or day would draw nothing.
    (if (length(unique(frame$x)) <= 31) ggplot2::geom_point(size = 2) else NULL) +
    ggplot2::scale_y_continuous(labels = scales::label_comma(), limits = c(0, NA)) +
    (if (inherits(frame$x, "POSIXct")) hour_axis(frame$x) else NULL) +
    ggplot2::labs(title = title, x = NULL, y = y_label) +
    theme_dashboard()
}

# An hourly x axis labels hours, whatever the range: for one hour or a few,
# ggplot's own breaks fall on minutes and read "00". Within a day the label is
# the hour ("03:00"), over longer ranges the day too; a single hour is shown
# with half an hour either side.
hour_axis <- function(x) {
  first <- min(x)
  last <- max(x)
  hours <- as.numeric(difftime(last, first, units = "hours"))
  limits <- if (hours < 1) c(first - 1800, last + 1800) else NULL
  step <- if (hours <= 12) 3600 else if (hours <= 48) 6 * 3600 else NULL
  breaks <- if (is.null(step)) ggplot2::waiver() else function(range) {
    from <- ceiling(as.numeric(range[1]) / step) * step
    to <- floor(as.numeric(range[2]) / step) * step
    as.POSIXct(seq(from, max(from, to), by = step), origin = "1970-01-01", tz = "UTC")
  }
  format <- if (hours < 24) "%H:00" else "%d %b %H:00"
  ggplot2::scale_x_datetime(
    limits = limits, breaks = breaks,
    labels = function(at) format(at, format, tz = "UTC")
  )
}

# A Sankey diagram: nodes (name, column) stacked in their column, links
# (source, target, value) drawn as bands whose width is the value.
sankey_chart <- function(nodes, links, title) {
  links <- links[links$value > 0, ]
  nodes$size <- pmax(
    vapply(nodes$name, function(n) sum(links$value[links$source == n]), 0),
    vapply(nodes$name, function(n) sum(links$value[links$target == n]), 0)
  )
  nodes <- nodes[nodes$size > 0, ]
  total <- max(tapply(nodes$size, nodes$column, sum))
  gap <- total * 0.04
  nodes$y0 <- 0
  for (col in unique(nodes$column)) {
    rows <- which(nodes$column == col)
    nodes$y0[rows] <- c(0, cumsum(nodes$size[rows] + gap))[seq_along(rows)]
  }
  nodes$y1 <- nodes$y0 + nodes$size
  width <- 0.08
  out_used <- setNames(nodes$y0, nodes$name)
  in_used <- setNames(nodes$y0, nodes$name)
  t <- seq(0, 1, length.out = 30)
  ease <- (1 - cos(pi * t)) / 2
  bands <- do.call(rbind, lapply(seq_len(nrow(links)), function(i) {
    l <- links[i, ]
    s <- nodes[nodes$name == l$source, ]
    d <- nodes[nodes$name == l$target, ]
    y_s <- out_used[[l$source]]
    y_d <- in_used[[l$target]]
    out_used[[l$source]] <<- y_s + l$value
    in_used[[l$target]] <<- y_d + l$value
    x <- s$column + width / 2 + t * (d$column - s$column - width)
    data.frame(
      link = i,
      x = c(x, rev(x)),
      y = c(y_s + ease * (y_d - y_s), rev(y_s + l$value + ease * (y_d - y_s))),
      flow = if (grepl("^(left|end)", l$target)) "leaves" else "continues"
    )
  }))
  ggplot2::ggplot() +
    ggplot2::geom_polygon(data = bands, ggplot2::aes(x, -y, group = link, fill = flow),
                          alpha = 0.45) +
    ggplot2::geom_rect(data = nodes, ggplot2::aes(xmin = column - width / 2,
                                                  xmax = column + width / 2,
                                                  ymin = -y1, ymax = -y0), fill = "#495057") +
    ggplot2::geom_text(data = nodes, ggplot2::aes(x = column + width / 2 + 0.02,
                                                  y = -(y0 + y1) / 2,
                                                  label = paste0(name, " (", fmt_int(size), ")")),
                       hjust = 0, size = 3.2) +
    ggplot2::scale_fill_manual(values = c(continues = "#0d6efd", leaves = "#adb5bd")) +
    ggplot2::scale_x_continuous(expand = ggplot2::expansion(add = c(0.1, 1.4))) +
    ggplot2::labs(title = title, x = NULL, y = NULL) +
    ggplot2::theme_void(base_size = 13) +
    ggplot2::theme(legend.position = "bottom", legend.title = ggplot2::element_blank(),
                   plot.title = ggplot2::element_text(face = "bold", size = 13))
}

# A two-column Sankey of pairs: sources on the left, targets on the right (a target
# named "end..." or "left..." is drawn as leaving).
pairs_sankey <- function(sources, targets, values, title) {
  nodes <- data.frame(name = c(unique(sources), unique(targets)),
                      column = rep(1:2, c(length(unique(sources)), length(unique(targets)))))
  sankey_chart(nodes, data.frame(source = sources, target = targets, value = values), title)
}

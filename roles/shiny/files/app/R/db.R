# The data warehouse connection and the named queries of sql/.
#
# Credentials never live in this code: they come from the environment
# (DW_PG_HOST, DW_PG_PORT, DW_PG_DATABASE, DW_PG_USER, DW_PG_PASSWORD,
# DW_PG_SSLMODE), read first from the file named by CLICKSTREAM_DASHBOARD_ENV
# (default /etc/clickstream-dashboards/dw.env, written by the shiny role and
# readable only by the shiny user) when it exists.  The login is the DW's
# read-only role, dw_reader.

dw_env_file <- function() {
  Sys.getenv("CLICKSTREAM_DASHBOARD_ENV", "/etc/clickstream-dashboards/dw.env")
}

dw_settings <- function() {
  path <- dw_env_file()
  if (file.exists(path)) {
    if (!readRenviron(path)) {
      stop(sprintf("cannot read the warehouse settings in %s", path), call. = FALSE)
    }
  }
  port <- suppressWarnings(as.integer(Sys.getenv("DW_PG_PORT", "5432")))
  if (is.na(port) || port < 1 || port > 65535) {
    stop(sprintf("DW_PG_PORT must be a port number, got '%s'", Sys.getenv("DW_PG_PORT")),
         call. = FALSE)
  }
  settings <- list(
    host = Sys.getenv("DW_PG_HOST", "127.0.0.1"),
    port = port,
    dbname = Sys.getenv("DW_PG_DATABASE", "clickstream_dw"),
    user = Sys.getenv("DW_PG_USER", "dw_reader"),
    password = Sys.getenv("DW_PG_PASSWORD", ""),
    sslmode = Sys.getenv("DW_PG_SSLMODE", "")
  )
  if (!nzchar(settings$host) || !nzchar(settings$user) || !nzchar(settings$dbname)) {
    stop("DW_PG_HOST, DW_PG_USER and DW_PG_DATABASE must not be empty", call. = FALSE)
  }
  settings
}

dw_connect <- function() {
  settings <- dw_settings()
  # libpq reads PGSSLMODE and PGAPPNAME; RPostgreSQL has no argument for either
  if (nzchar(settings$sslmode)) Sys.setenv(PGSSLMODE = settings$sslmode)
  Sys.setenv(PGAPPNAME = "clickstream-dashboards", PGCONNECT_TIMEOUT = "10")
  con <- DBI::dbConnect(
    RPostgreSQL::PostgreSQL(),
    host = settings$host, port = settings$port, dbname = settings$dbname,
    user = settings$user, password = settings$password
  )
  # UTC for every date_trunc and text rendering; dashboards only read
  DBI::dbExecute(con, "SET TimeZone = 'UTC'")
  DBI::dbExecute(con, "SET default_transaction_read_only = on")
  DBI::dbExecute(con, "SET statement_timeout = '30s'")
  con
}

# The queries, read once per R process: sql/<name>.sql, parameters $1 and $2 are the
# first and last day (UTC, inclusive) of the date filter, $3 (a boolean) the "Include
# bots" switch: every rollup keeps bot rows apart (is_bot), and a query adds them only
# when $3 is true.
sql_dir <- function() {
  file.path(getwd(), "sql")
}

load_queries <- function(dir = sql_dir()) {
  files <- list.files(dir, pattern = "\\.sql$", full.names = TRUE)
  if (length(files) == 0) stop(sprintf("no queries in %s", dir), call. = FALSE)
  queries <- lapply(files, function(f) paste(readLines(f, warn = FALSE), collapse = "\n"))
  names(queries) <- sub("\\.sql$", "", basename(files))
  queries
}

QUERIES <- load_queries()

# A per-session connection that reconnects once when the server dropped it.
dw_client <- function() {
  con <- NULL
  get <- function() {
    if (is.null(con)) con <<- dw_connect()
    con
  }
  # range: the first and last day ($1, $2); bots: TRUE or FALSE ($3), for the queries
  # that read it (PostgreSQL refuses a parameter the statement does not use).
  run <- function(name, range = NULL, bots = NULL) {
    statement <- QUERIES[[name]]
    if (is.null(statement)) stop(sprintf("unknown query '%s'", name), call. = FALSE)
    params <- if (is.null(range)) list() else list(format(range[1]), format(range[2]))
    if (!is.null(bots)) params <- c(params, if (isTRUE(bots)) "true" else "false")
    attempt <- function() {
      # RPostgreSQL reports some failures as a warning and a NULL result: make both errors
      result <- withCallingHandlers(
        if (length(params)) DBI::dbGetQuery(get(), statement, params)
        else DBI::dbGetQuery(get(), statement),
        warning = function(w) stop(conditionMessage(w), call. = FALSE)
      )
      if (!is.data.frame(result)) stop(sprintf("query '%s' returned no result", name))
      result
    }
    tryCatch(attempt(), error = function(e) {
      # a broken connection (server restart): one fresh connection, one more try
      close()
      attempt()
    })
  }
  close <- function() {
    if (!is.null(con)) try(DBI::dbDisconnect(con), silent = TRUE)
    con <<- NULL
  }
  list(run = run, close = close, con = get)
}

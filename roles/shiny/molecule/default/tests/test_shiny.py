"""Verify the shiny role on a converged host: Shiny Server, the app, its private settings."""

import json

# The instance has no curl: Python's urllib, which Ansible needs there anyway.
FETCH = (
    "import sys, urllib.request, urllib.error\n"
    "try:\n"
    "    r = urllib.request.urlopen(sys.argv[1], timeout=60)\n"
    "    print(r.status); print(r.read().decode())\n"
    "except urllib.error.HTTPError as e:\n"
    "    print(e.code)\n"
)

APP_URL = "http://127.0.0.1:3838/clickstream/"
ENV_FILE = "/etc/clickstream-dashboards/dw.env"
APP_DIR = "/srv/shiny-server/clickstream"


def fetch(host, url):
    """(status, body) of a GET from inside the instance; raises when nothing answers."""
    out = host.check_output("python3 -c %s %s", FETCH, url)
    status, _, body = out.partition("\n")
    return int(status), body


def run_r(host, script):
    """Rscript as the shiny user in the app's directory, with the deployed settings."""
    return host.run(f"cd {APP_DIR} && runuser -u shiny -- Rscript -e %s", script)


def test_service_runs_and_is_enabled(host):
    service = host.service("shiny-server")
    assert service.is_running
    assert service.is_enabled


def test_listens_on_loopback_only(host):
    assert host.socket("tcp://127.0.0.1:3838").is_listening
    assert not host.socket("tcp://0.0.0.0:3838").is_listening
    address = host.check_output("hostname -I").split()[0]
    refused = host.run("python3 -c %s %s", FETCH, f"http://{address}:3838/clickstream/")
    assert refused.rc != 0
    assert "Connection refused" in refused.stderr


def test_the_dashboard_answers(host):
    status, page = fetch(host, APP_URL)
    assert status == 200
    assert "Clickstream analytics" in page
    for tab in ("Overview", "Funnel", "Product engagement", "User journeys", "Pipeline health"):
        assert tab in page


def test_no_index_of_apps_at_the_root(host):
    status, _ = fetch(host, "http://127.0.0.1:3838/")
    assert status == 404


def test_settings_are_readable_by_shiny_only(host):
    settings = host.file(ENV_FILE)
    assert settings.user == "root"
    assert settings.group == "shiny"
    assert settings.mode == 0o640
    assert settings.contains("^DW_PG_USER=dw_reader$")
    assert host.file("/etc/clickstream-dashboards").mode == 0o750
    assert host.run(f"runuser -u shiny -- cat {ENV_FILE}").rc == 0
    assert host.run(f"runuser -u nobody -- cat {ENV_FILE}").rc != 0
    # the password is not in the app's code
    assert host.run(f"grep -r molecule-dw-reader-password {APP_DIR}").rc == 1


def test_app_code_is_not_writable_by_the_app(host):
    app = host.file(f"{APP_DIR}/app.R")
    assert app.user == "root"
    assert app.group == "shiny"
    assert app.mode == 0o640
    assert host.run(f"runuser -u shiny -- test -w {APP_DIR}/app.R").rc != 0


def test_the_app_reads_the_warehouse_as_dw_reader(host):
    """The app's own database code, as the shiny user, with the deployed settings."""
    script = (
        "source('R/db.R'); db <- dw_client(); "
        "cat(jsonlite::toJSON(list(range = db$run('data_range'), "
        "user = DBI::dbGetQuery(db$con(), 'SELECT current_user AS u')$u)))"
    )
    result = run_r(host, script)
    assert result.rc == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["user"] == ["dw_reader"]
    # the empty warehouse of the scenario: no hour loaded yet
    assert answer["range"] == [{}]


def test_the_app_may_not_write(host):
    script = (
        "source('R/db.R'); db <- dw_client(); "
        "r <- tryCatch(DBI::dbGetQuery(db$con(), 'DELETE FROM public.sessions'), "
        "error = function(e) 'refused', warning = function(w) 'refused'); "
        "cat(identical(r, 'refused'))"
    )
    result = run_r(host, script)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip().endswith("TRUE")


def test_logs(host):
    assert host.file("/var/log/shiny-server").user == "shiny"
    assert host.file("/var/log/shiny-server.log").exists
    assert host.file("/etc/logrotate.d/shiny-server").exists

"""Verify the apt proxy: the client's apt goes through it; nobody else may use it."""

import pytest
import testinfra

LOG = "/var/log/apt-cacher-ng/apt-cacher.log"
# Fetch a URL through the proxy; print the HTTP status, or the error.
FETCH = (
    'python3 -c "import sys, urllib.request as u, urllib.error as e\n'
    "opener = u.build_opener(u.ProxyHandler({{'http': 'http://{proxy}:3142'}}))\n"
    "try:\n"
    "    print(opener.open(sys.argv[1], timeout=30).status)\n"
    "except e.HTTPError as error:\n"
    "    print(error.code)\n"
    "except Exception as error:\n"
    "    print('refused', error)\n"
    '" {url}'
)


def address(host):
    return host.check_output("ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1")


@pytest.fixture(scope="module")
def client():
    return testinfra.get_host("podman://apt-proxy-client")


@pytest.fixture(scope="module")
def server_ip(host):
    return address(host)


@pytest.fixture(scope="module")
def client_ip(client):
    return address(client)


@pytest.fixture(scope="module")
def mirror(client):
    """The Debian mirror the client's sources name (http)."""
    return client.check_output("awk '$1 == \"deb\" {print $2; exit}' /etc/apt/sources.list")


def client_lines(host, client_ip):
    """The proxy's log lines of transfers to the client."""
    return [line for line in host.file(LOG).content_string.splitlines() if f"|{client_ip}|" in line]


def test_proxy_listens_on_its_private_address(host, server_ip):
    assert host.service("apt-cacher-ng").is_running
    assert host.service("apt-cacher-ng").is_enabled
    assert host.socket(f"tcp://{server_ip}:3142").is_listening
    assert not host.socket("tcp://0.0.0.0:3142").is_listening


def test_client_apt_is_configured_for_the_proxy(client, server_ip):
    dump = client.check_output("apt-config dump Acquire::http::Proxy")
    assert dump == f'Acquire::http::Proxy "http://{server_ip}:3142";'


def test_client_apt_really_goes_through_the_proxy(host, client, client_ip):
    """apt-get update on the client shows up in the proxy's log, from the client's address."""
    before = len(client_lines(host, client_ip))
    update = client.run("apt-get update")
    assert update.rc == 0, update.stderr
    after = client_lines(host, client_ip)
    assert len(after) > before
    assert any("InRelease" in line for line in after[before:])
    assert client.package("tree").is_installed


def test_client_downloads_packages_through_the_proxy(host, client, client_ip):
    result = client.run("cd /tmp && apt-get download -q hello")
    assert result.rc == 0, result.stderr
    assert any(line.endswith(".deb") and "hello" in line for line in client_lines(host, client_ip))


def test_address_not_allowed_is_refused(host, client, mirror, server_ip):
    """The same request, from the proxy host's own network address (not listed), is refused."""
    url = f"{mirror}/dists/bookworm/InRelease"
    assert client.check_output(FETCH.format(proxy=server_ip, url=url)) == "200"
    denied = host.check_output(FETCH.format(proxy=server_ip, url=url))
    assert denied.startswith("refused") or denied == "403", denied


def test_only_debian_repositories_are_proxied(client, server_ip):
    """No open proxy: a URL of no known repository is refused without being fetched."""
    status = client.check_output(FETCH.format(proxy=server_ip, url="http://not-a-mirror.invalid/x"))
    assert status == "403"


def test_https_tunnels_are_refused(client, server_ip):
    result = client.run(
        "python3 -c \"import http.client as h; c = h.HTTPConnection('"
        + server_ip
        + "', 3142, timeout=10); c.request('CONNECT', 'deb.debian.org:443'); "
        'print(c.getresponse().status)"'
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() != "200"


@pytest.mark.parametrize(
    ("line", "valid"),
    [("ExThreshold: 4", True), ("NoSuchDirective: 1", False), ("Port: not-a-port", False)],
)
def test_configuration_check_refuses_a_bad_file(host, line, valid):
    """The check `validate:` runs before the proxy's configuration is replaced."""
    result = host.run(
        f"f=$(mktemp) && echo '{line}' > $f && d=$(mktemp -d) && "
        "cp /etc/apt-cacher-ng/*.conf /etc/apt-cacher-ng/*.default $d/ 2>/dev/null; "
        "cp $f $d/zz_clickstream.conf && /usr/lib/apt-cacher-ng/acngtool cfgdump -c $d >/dev/null; "
        "rc=$?; rm -rf $f $d; exit $rc"
    )
    assert (result.rc == 0) == valid, result.stdout + result.stderr

"""Verify the base role on a converged host: sshd, upgrades, admin, journald."""

import re

import pytest

ADMIN = "clickadmin"
ADMIN_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIA+nGIFsVaId3SQU8PKXhid9HZ4+nr1ztndsmD9Ki7EN"


@pytest.fixture(scope="module")
def sshd_effective(host):
    """The settings sshd really runs with, as `sshd -T` prints them."""
    out = host.check_output("/usr/sbin/sshd -T -C user=nobody,host=client,addr=192.0.2.1")
    settings = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        settings[key] = value
    return settings


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("permitrootlogin", "no"),
        ("passwordauthentication", "no"),
        ("kbdinteractiveauthentication", "no"),
        ("permitemptypasswords", "no"),
        ("pubkeyauthentication", "yes"),
        ("authenticationmethods", "publickey"),
        ("x11forwarding", "no"),
        ("allowtcpforwarding", "no"),
        ("allowagentforwarding", "no"),
        ("maxauthtries", "3"),
        ("loglevel", "VERBOSE"),
        ("banner", "/etc/issue.net"),
    ],
)
def test_sshd_effective_setting(sshd_effective, key, expected):
    assert sshd_effective[key] == expected


def test_sshd_offers_only_modern_algorithms(sshd_effective):
    ciphers = set(sshd_effective["ciphers"].split(","))
    macs = set(sshd_effective["macs"].split(","))
    kex = set(sshd_effective["kexalgorithms"].split(","))
    assert not {c for c in ciphers if "cbc" in c or c.startswith(("3des", "arcfour"))}
    assert all(m.endswith("-etm@openssh.com") for m in macs)
    assert not {k for k in kex if "sha1" in k or k.startswith("ecdh-sha2-nistp")}


def test_sshd_config_is_valid_and_private(host):
    assert host.run("/usr/sbin/sshd -t").rc == 0
    config = host.file("/etc/ssh/sshd_config")
    assert config.user == "root"
    assert config.mode == 0o600


def test_sshd_listens(host):
    assert host.service("ssh").is_running
    assert host.service("ssh").is_enabled
    assert host.socket("tcp://0.0.0.0:22").is_listening


def test_dh_moduli_are_strong(host):
    weak = host.check_output("awk '$5 < 3071 && $1 !~ /^#/' /etc/ssh/moduli | wc -l")
    assert weak.strip() == "0"


@pytest.mark.parametrize(
    "package",
    ["openssh-server", "unattended-upgrades", "sudo", "locales", "tzdata", "libpam-pwquality"],
)
def test_package_installed(host, package):
    assert host.package(package).is_installed


def test_time_zone_and_locale(host):
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Etc/UTC"
    assert host.check_output("date +%Z") == "UTC"
    assert "en_US.utf8" in host.check_output("locale -a")
    assert host.file("/etc/default/locale").contains("^LANG=en_US.UTF-8$")


def test_unattended_upgrades_are_on(host):
    auto = host.file("/etc/apt/apt.conf.d/20auto-upgrades")
    assert auto.contains('APT::Periodic::Unattended-Upgrade "1";')
    assert auto.contains('APT::Periodic::Update-Package-Lists "1";')
    assert host.service("apt-daily-upgrade.timer").is_enabled
    assert host.service("unattended-upgrades").is_enabled
    # The configuration unattended-upgrades really reads: security origins only.
    dump = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    assert "label=Debian-Security" in dump
    assert "label=Debian," not in dump


def test_admin_user_has_key_and_sudo(host):
    admin = host.user(ADMIN)
    assert "sudo" in admin.groups
    keys = host.file(f"/home/{ADMIN}/.ssh/authorized_keys")
    assert keys.contains(ADMIN_KEY)
    assert keys.user == ADMIN
    assert keys.mode == 0o600
    # Password login is impossible: the account has no usable password.
    assert host.check_output(f"getent shadow {ADMIN} | cut -d: -f2").startswith("!")
    assert host.run(f"sudo -n -u {ADMIN} sudo -n true").rc == 0


def test_root_cannot_log_in_with_password(host):
    shadow = host.check_output("getent shadow root | cut -d: -f2")
    assert shadow.startswith(("!", "*"))


def test_journald_is_limited(host):
    effective = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "SystemMaxUse=500M" in effective
    assert "MaxRetentionSec=1month" in effective
    assert host.service("systemd-journald").is_running


def test_core_dumps_disabled_and_modules_blacklisted(host):
    limits = host.file("/etc/security/limits.d/10-no-core-dumps.conf").content_string
    assert re.search(r"^\*\s+hard\s+core\s+0$", limits, re.MULTILINE)
    blacklist = host.file("/etc/modprobe.d/clickstream-blacklist.conf")
    assert blacklist.contains("^install usb-storage /bin/true$")


def test_login_defs_hardening(host):
    defs = host.file("/etc/login.defs").content_string
    assert re.search(r"^PASS_MAX_DAYS\s+365$", defs, re.MULTILINE)
    assert re.search(r"^UMASK\s+027$", defs, re.MULTILINE)


def test_admin_home_is_private(host):
    assert host.file(f"/home/{ADMIN}").mode == 0o750


def test_lynis_hardening_index(host):
    """Lynis (Debian's package) rates the host at least 75 (stock Debian 12: 58)."""
    install = host.run("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lynis")
    assert install.rc == 0, install.stderr
    report = host.check_output("lynis audit system --quick --no-colors 2>&1")
    match = re.search(r"Hardening index : (\d+)", report)
    assert match, report[-2000:]
    print(f"Lynis hardening index: {match.group(1)}")
    assert int(match.group(1)) >= 75

"""The network guard's rules, piece by piece: which addresses are inside, how allowed networks
are read, how hosts are matched and resolved, and what a refusal counts as. (The end-to-end
crawls are in test_network_guard.py and, for rendered pages, test_render_guard.py.)"""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured
from scrapy.resolver import dnscache
from twisted.internet.error import DNSLookupError

from crawler.failures import failure_reason
from crawler.middlewares.network_guard import BlockedRequest, GuardedResolver, NetworkGuard
from crawler.network import address_refusal, host_in_domains, literal_address, parse_networks
from crawler.settings import chromium_args
from review_ui.env import envnetworks


def refusal(address: str, allowed: str = "") -> str | None:
    return address_refusal(ipaddress.ip_address(address), parse_networks(allowed))


def test_127_0_0_1_slash_32_allows_127_0_0_1_but_not_127_0_0_2():
    assert refusal("127.0.0.1", "127.0.0.1/32") is None
    assert refusal("127.0.0.2", "127.0.0.1/32") == (
        "127.0.0.2 is a loopback address, outside TUTORWATCH_ALLOW_NETWORKS (127.0.0.1/32)")
    assert refusal("127.0.0.2", "127.0.0.0/8") is None


@pytest.mark.parametrize(("address", "block"), [
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("10.20.30.40", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fd00::1", "private"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "private"),  # reserved, and in Python's table of private networks
    ("100.64.0.1", "non-global"),  # carrier-grade NAT
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
])
def test_inside_addresses_are_refused_whatever_their_form(address: str, block: str):
    assert f"is a {block} address" in (refusal(address) or "")


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "64:ff9b::808:808",
                                     "2002:808:808::"])
def test_public_addresses_are_allowed(address: str):
    assert refusal(address) is None


def test_an_ipv4_mapped_address_is_allowed_by_its_ipv4_network():
    assert refusal("::ffff:127.0.0.1", "127.0.0.0/8") is None
    assert refusal("::ffff:127.0.0.2", "127.0.0.1/32") is not None


@pytest.mark.parametrize(("host", "address"), [
    ("2130706433", "127.0.0.1"),   # decimal
    ("0x7f.1", "127.0.0.1"),       # hexadecimal, short form
    ("0177.0.0.1", "127.0.0.1"),   # octal
    ("127.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("[::1]", "::1"),
    ("169.254.169.254", "169.254.169.254"),
])
def test_literal_addresses_are_read_as_the_system_resolver_reads_them(host: str, address: str):
    assert literal_address(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.org", "cafe.be", "deadbeef", "1.2.3.4.5", "localhost"])
def test_host_names_are_not_literal_addresses(host: str):
    assert literal_address(host) is None


def test_allowed_networks_are_read_from_a_string_or_a_list():
    assert parse_networks("127.0.0.0/8, 10.0.0.0/8,,") == (
        ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("10.0.0.0/8"))
    assert parse_networks(["192.168.0.5"]) == (ipaddress.ip_network("192.168.0.5/32"),)
    assert parse_networks(None) == parse_networks("") == ()


@pytest.mark.parametrize("raw", ["10.1.2.3/8", "not-a-network", "10.0.0.0/33"])
def test_a_bad_network_is_refused_naming_the_setting(raw: str):
    with pytest.raises(ValueError, match=f"TUTORWATCH_ALLOW_NETWORKS: '{raw}' is not a network"):
        parse_networks(f"127.0.0.0/8,{raw}")


def test_a_bad_network_in_the_environment_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("TUTORWATCH_ALLOW_NETWORKS", "127.0.0.0/8, 10.1.2.3/8")
    with pytest.raises(ImproperlyConfigured, match="TUTORWATCH_ALLOW_NETWORKS must be") as caught:
        envnetworks("TUTORWATCH_ALLOW_NETWORKS")
    assert "'10.1.2.3/8'" in str(caught.value)
    monkeypatch.setenv("TUTORWATCH_ALLOW_NETWORKS", " 127.0.0.0/8 , ::1 ")
    assert envnetworks("TUTORWATCH_ALLOW_NETWORKS") == ["127.0.0.0/8", "::1/128"]
    monkeypatch.delenv("TUTORWATCH_ALLOW_NETWORKS")
    assert envnetworks("TUTORWATCH_ALLOW_NETWORKS") == []


def test_hosts_match_their_domains_and_subdomains_only():
    domains = ["example.org", "Forum.Example.NET."]
    assert host_in_domains("example.org", domains)
    assert host_in_domains("bbs.example.org", domains)
    assert host_in_domains("forum.example.net", domains)
    assert not host_in_domains("badexample.org", domains)
    assert not host_in_domains("example.org.evil.test", domains)
    assert not host_in_domains("example.net", domains)


def check(guard: NetworkGuard, url: str, domains: list[str] | None = None,
          redirected: bool = False):
    return asyncio.run(guard.check_url(url, domains, redirected))


@pytest.mark.parametrize("url", [
    "http://2130706433/latest/", "http://0x7f.1/", "http://[::1]:8080/", "http://127.0.0.2/",
    "http://[::ffff:169.254.169.254]/", "http://169.254.169.254/latest/meta-data/",
    "file:///etc/passwd", "ftp://127.0.0.1/", "http:///no-host",
])
def test_the_guard_refuses_urls_of_inside_hosts_and_other_schemes(url: str):
    found = check(NetworkGuard(), url)
    assert found is not None and found.reason == "blocked_network", found


def test_the_guard_resolves_host_names_and_refuses_inside_ones():
    assert check(NetworkGuard(), "http://localhost/").message.startswith(
        "localhost resolves to 127.0.0.1 is a loopback address")
    assert check(NetworkGuard(parse_networks("127.0.0.0/8,::1")), "http://localhost/") is None


def test_the_guard_fails_a_host_that_does_not_resolve_as_dns():
    with pytest.raises(DNSLookupError):
        check(NetworkGuard(), "http://no-such-host.invalid/")
    assert failure_reason(DNSLookupError()) == ("failed", "dns")


def test_off_site_urls_are_refused_as_offsite_or_as_offsite_redirects():
    guard = NetworkGuard(parse_networks("127.0.0.0/8"))
    assert check(guard, "http://127.0.0.1:8000/a", ["127.0.0.1"]) is None
    assert check(guard, "http://127.0.0.3:8000/a", ["127.0.0.1"]).reason == "offsite"
    assert check(guard, "http://127.0.0.3:8000/a", ["127.0.0.1"], True).reason == (
        "offsite_redirect")
    assert check(guard, "http://127.0.0.3:8000/a", []) is None  # no domains: any host


def test_refusals_count_as_failures_or_as_skipped_offsite_requests():
    assert failure_reason(BlockedRequest("blocked_network", "x")) == ("failed", "blocked_network")
    assert failure_reason(BlockedRequest("offsite_redirect", "x")) == (
        "failed", "offsite_redirect")
    assert failure_reason(BlockedRequest("offsite", "x")) == ("skipped", "offsite")


class _Reactor:
    """Enough of a reactor for a resolver answering from Scrapy's DNS cache."""


def test_the_resolver_refuses_an_answer_that_changed_to_an_inside_address():
    resolver = GuardedResolver(_Reactor(), cache_size=100, timeout=1.0)
    resolver.networks = parse_networks("127.0.0.1/32")
    dnscache["rebound.test"] = "127.0.0.2"  # what the connection's resolution would find
    dnscache["steady.test"] = "127.0.0.1"
    try:
        failures: list = []
        resolver.getHostByName("rebound.test").addErrback(failures.append)
        assert failures and failures[0].check(DNSLookupError)
        assert "127.0.0.2 is a loopback address" in str(failures[0].value)
        answers: list = []
        resolver.getHostByName("steady.test").addCallback(answers.append)
        assert answers == ["127.0.0.1"]
    finally:
        del dnscache["rebound.test"], dnscache["steady.test"]


def test_chromium_keeps_its_sandbox_unless_the_crawl_runs_as_root():
    assert "--no-sandbox" in chromium_args(0)
    assert "--no-sandbox" not in chromium_args(1000)
    assert chromium_args(1000) == [arg for arg in chromium_args(0) if arg != "--no-sandbox"]

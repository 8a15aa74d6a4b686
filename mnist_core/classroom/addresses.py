"""The address students open: the one the app shows in share links, the join panel and its QR code.

A link built from what the teacher's own browser typed (`localhost:8501`) reaches, on a student's laptop,
the student's own machine. So: a school's own name when one is set (MNIST_APP_URL, or Streamlit's
`browser.serverAddress`), else the address the teacher's browser used when it is not a loopback one (it
reached this machine over the network, so a student's device can too), else this machine's own network
addresses on the port the browser used. Finding them reads the machine's interfaces; nothing is contacted."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

SETTING = "MNIST_APP_URL"  # e.g. https://digits.school.example/ : what the students type


@dataclass(frozen=True)
class Addresses:
    """Where students open the app: `urls` (the first is the one to show big; each ends with '/'), and
    `reachable`: False when only a loopback address was found (then no other device can open it)."""

    urls: tuple[str, ...]
    reachable: bool

    @property
    def main(self) -> str:
        return self.urls[0]

    def link(self, **query: str) -> str:
        """The main address with a query (`?job=...`): a share link a student's device can open."""
        pairs = "&".join(f"{k}={v}" for k, v in query.items())
        return f"{self.main}?{pairs}" if pairs else self.main


def is_loopback(host: str | None) -> bool:
    """Whether a host name or address means "this very machine" wherever it is typed."""
    if not host:
        return True
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _base(url: str) -> str:
    """The URL without query or fragment, ending with '/'; a bare host name gets http://."""
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url.strip())
    path = parts.path if parts.path.endswith("/") else f"{parts.path}/"
    return urlunsplit((parts.scheme or "http", parts.netloc, path, "", ""))


def _host_port(netloc: str) -> str:
    """An address as it goes into a URL: IPv6 in brackets."""
    return f"[{netloc}]" if ":" in netloc and not netloc.startswith("[") else netloc


def network_addresses() -> list[str]:
    """This machine's IPv4 addresses other devices may reach (no loopback, no link-local), sorted with
    private LAN addresses first; read from the host name's records and, on Linux, each interface. Nothing
    is sent anywhere."""
    found: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(str(info[4][0]))
    except OSError:
        pass
    found.update(_interface_addresses())
    usable = [a for a in found if not (ipaddress.ip_address(a).is_loopback or ipaddress.ip_address(a).is_link_local
                                       or ipaddress.ip_address(a).is_unspecified)]
    return sorted(usable, key=lambda a: (not ipaddress.ip_address(a).is_private, ipaddress.ip_address(a)))


def _interface_addresses() -> list[str]:
    """Each interface's IPv4 address by the SIOCGIFADDR ioctl (Linux); [] elsewhere."""
    try:
        import fcntl
        import struct
    except ImportError:
        return []
    out = []
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        return []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # never connected: only asked about itself
        for name in names:
            try:
                packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))
                out.append(socket.inet_ntoa(packed[20:24]))
            except OSError:
                continue  # an interface without an IPv4 address
    return out


def student_addresses(browser_url: str | None, setting: str | None = None, port: int | None = None,
                      network: list[str] | None = None, path: str = "/") -> Addresses:
    """Where a student's device opens this app.

    browser_url: what the teacher's browser shows (st.context.url), or None (no browser);
    setting: the school's own address (MNIST_APP_URL or browser.serverAddress), used as given;
    port: the port to use with machine addresses when the browser's URL has none (the server's);
    network: this machine's addresses (default `network_addresses()`); path: the app's base path."""
    if setting and setting.strip():
        return Addresses((_base(setting),), True)
    # The browser's path is a page's (/draw): share links and the join panel point at the app's root.
    root = "/" + "/".join(part for part in path.split("/") if part)
    root = root if root.endswith("/") else f"{root}/"
    scheme, used_port = "http", port
    if browser_url:
        parts = urlsplit(browser_url)
        scheme = parts.scheme or "http"
        if not is_loopback(parts.hostname):
            return Addresses((urlunsplit((scheme, parts.netloc, root, "", "")),), True)
        used_port = parts.port or port
    suffix = f":{used_port}" if used_port and used_port not in (80, 443) else ""
    machine = network_addresses() if network is None else network
    if machine:
        return Addresses(tuple(f"{scheme}://{_host_port(a)}{suffix}{root}" for a in machine), True)
    return Addresses((f"{scheme}://localhost{suffix}{root}",), False)


def qr_png(text: str, width_px: int) -> bytes:
    """`text` as a QR code: a PNG about `width_px` wide (whole modules, black on white, with the quiet
    zone scanners need), error correction M, so a smudged projector image still reads. Made by segno."""
    import io

    import segno

    code = segno.make(text, error="m", micro=False)
    side = code.symbol_size(scale=1, border=4)[0]  # modules across, quiet zone included
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=max(1, width_px // side), border=4, dark="#000", light="#fff")
    return buffer.getvalue()

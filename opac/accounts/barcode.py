"""Library card symbols as inline SVG: Code 128 (python-barcode's encoder) and a QR code.

Drawn with fill attributes only, so they render under a CSP that forbids inline styles.
"""

from __future__ import annotations

import barcode
import qrcode
from markupsafe import Markup, escape


def code128_svg(data: str, height: int = 60, module: int = 2, label: str | None = None) -> Markup:
    """A Code 128 barcode with quiet zones, scaled to its container (viewBox)."""
    modules = barcode.get("code128", data).build()[0]
    quiet = 10
    width = (len(modules) + 2 * quiet) * module
    rects, x, run = [], quiet * module, 0
    for i, bit in enumerate(modules + "0"):
        if bit == "1":
            run += 1
            continue
        if run:
            start = (quiet + i - run) * module
            rects.append(f'<rect x="{start}" y="0" width="{run * module}" height="{height}"/>')
            run = 0
    text_h = 18 if label else 0
    text = (f'<text x="{width / 2}" y="{height + 15}" text-anchor="middle" font-family="monospace" font-size="14" '
            f'fill="#000">{escape(label)}</text>') if label else ""
    _ = x
    # every interpolated value below is escaped
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + text_h}" role="img" '
        f'aria-label="Code 128 {escape(data)}" preserveAspectRatio="xMidYMid meet">'
        f'<rect width="{width}" height="{height + text_h}" fill="#fff"/><g fill="#000">{"".join(rects)}</g>{text}</svg>'
    )


def qr_svg(data: str, scale: int = 4, label: str | None = None) -> Markup:
    """A QR code; ``label`` replaces the data in the accessible name (for secrets such as a TOTP URI)."""
    qr = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(data)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    n = len(matrix)
    path = "".join(f"M{x},{y}h1v1h-1z" for y, row in enumerate(matrix) for x, cell in enumerate(row) if cell)
    # every interpolated value below is escaped
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" width="{n * scale}" height="{n * scale}" '
        f'role="img" aria-label="{escape(label) if label else "QR " + escape(data)}" shape-rendering="crispEdges">'
        f'<rect width="{n}" height="{n}" fill="#fff"/><path d="{path}" fill="#000"/></svg>'
    )

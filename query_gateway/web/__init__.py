"""The web page's HTML, scripts and styles (a package so they ship in the wheel)."""

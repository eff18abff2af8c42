"""The touch ticket kiosk (取号机): a client of the controller's API (issue 5)."""

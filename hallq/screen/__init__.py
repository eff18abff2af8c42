"""A hall screen on a Pi: Chromium in kiosk mode on /screen/ID, dark outside its hours."""

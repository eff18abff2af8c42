"""Hall screens, window screens, LED content and the local web pages (issue 4)."""

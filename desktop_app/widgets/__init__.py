"""Reusable widgets shared by the tabs: job bar, live loss plot and views."""

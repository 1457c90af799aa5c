"""Maintainer tools: release the student copies, build HTML pages, edit a lesson as text."""

"""The nbgrader side of the course: release, collect, autograde, feedback, export."""

"""PostgreSQL for the test suite (tests.settings, when TUTORWATCH_TEST_PG is set).

Between transactional tests Django empties every table with one TRUNCATE, which the audit
log's append-only trigger refuses (migration 0008). Here, and only here, the flush turns the
table's triggers off for its own transaction. Production keeps refusing a flush of the log.
"""

from django.db.backends.postgresql import base, operations

AUDIT_TABLE = "review_ui_auditevent"


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        sql = super().sql_flush(style, tables, reset_sequences=reset_sequences,
                                allow_cascade=allow_cascade)
        if AUDIT_TABLE not in tables:
            return sql
        table = self.quote_name(AUDIT_TABLE)
        # Run in one atomic block (execute_sql_flush): an error turns the triggers back on.
        return [f"ALTER TABLE {table} DISABLE TRIGGER USER;", *sql,
                f"ALTER TABLE {table} ENABLE TRIGGER USER;"]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

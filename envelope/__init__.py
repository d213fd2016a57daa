"""The ground floor: the data contracts every part of riskloop shares.

It imports nothing of the project. :mod:`envelope.events` (the event envelope and its strict
parsing, risk warnings and their ids, clue transition and disposition records),
:mod:`envelope.checks` (records read back from a topic), :mod:`envelope.build` (events from
keywords), :mod:`envelope.time` (China Standard Time, local dates, one duration grammar),
:mod:`envelope.calendar` (statutory working days) and :mod:`envelope.calendar_file` (its
patch file), :mod:`envelope.paths` (dotted paths), :mod:`envelope.topics` (topic names),
:mod:`envelope.partitioning` (Kafka's default partitioner), :mod:`envelope.settings` (the
typed ``RISKLOOP_*`` settings every service reads) and :mod:`envelope.errors` (the root of
every user error).
"""

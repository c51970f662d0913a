"""Places of ads (issue 19, point 3): the province, city, district and township an ad names,
the bureau's jurisdiction, the per-township dashboard table, and officers' digests.

``parser`` is framework-free (no Django): it reads a text with jionlp's parser and the
administrative divisions jionlp ships (down to townships and streets), so nothing is
downloaded at run time. The Django parts (``models``, ``views``, ``digests``) call it.
"""

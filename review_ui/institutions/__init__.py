"""Licensing lists (issue 19 point 2): the white and black lists bureaus keep of training
institutions, imported from their files (``lists``, ``tutorwatch institutions import``), and ads
matched to them by contact and by brand name (``names``, ``matching``), with whether a licensed
institution's ad fits its permitted scope (``scope``)."""

"""The registers of the labeled corpus: the kinds of text an ad is written in. A source config's
``source_type`` names one. Kept apart from :mod:`classifier.corpus` so that checking a config
imports nothing of the model (a crawl process scores no ad: its pipeline worker does)."""

SOURCE_TYPES = (
    "classified", "forum", "listing", "social", "wechat_article", "job", "news", "chat",
    # texted promotions, app-store descriptions, headlines, citizens' messages to a government board
    "sms", "app_store", "headline", "message",
)

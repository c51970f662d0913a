"""The Scrapy project of tutorwatch: config-driven spiders, their source configs, item pipelines,
text cleaning and entity extraction, and the local sandbox sites used by the demo and the tests."""

"""Pipeline 1, context-relevance datasets (Open Provence): QA triplets, convert, frequency
filter, dataset reports, span-relevance labels, label quality, teacher scores."""

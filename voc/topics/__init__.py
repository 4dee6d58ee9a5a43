"""Complaint topics: embedders, HDBSCAN clustering, c-TF-IDF labels, a registry of stable topic IDs, emerging topics.

Only light names live here; the heavy libraries load inside the functions that need them.
"""

from voc.semantic.embedders import (
    E5Embedder,
    Embedder,
    EmbeddingCache,
    SentenceTransformerEmbedder,
    TfidfSvdEmbedder,
    embed_with_cache,
    get_embedder,
    minilm_model_path,
    resolve_embedder_name,
    text_hash,
)
from voc.semantic.tokens import stopwords, tokenize
from voc.topics.clustering import ClusterResult, cluster_vectors, label_clusters, representative_texts
from voc.topics.emerging import EmergingTopic, daily_counts, detect_emerging
from voc.topics.registry import (
    Topic,
    TopicDoc,
    TopicEvent,
    TopicRegistry,
    TopicRunResult,
    update_topics,
)

__all__ = [
    "ClusterResult",
    "E5Embedder",
    "Embedder",
    "EmbeddingCache",
    "EmergingTopic",
    "SentenceTransformerEmbedder",
    "TfidfSvdEmbedder",
    "Topic",
    "TopicDoc",
    "TopicEvent",
    "TopicRegistry",
    "TopicRunResult",
    "cluster_vectors",
    "daily_counts",
    "detect_emerging",
    "embed_with_cache",
    "get_embedder",
    "label_clusters",
    "minilm_model_path",
    "representative_texts",
    "resolve_embedder_name",
    "stopwords",
    "text_hash",
    "tokenize",
    "update_topics",
]

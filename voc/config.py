"""Settings: environment ``VOC_*`` over ``voc.yaml`` over defaults.

Build one :class:`Settings` at the entry point (CLI, DAG task) with :func:`load_settings`
and pass it down; library code never reads ``os.environ``.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CONFIG_FILES = ("voc.yaml", "voc.yml")
ENV_PREFIX = "VOC_"
ENV_NESTED = "__"


class ConfigError(ValueError):
    """A settings file or variable is wrong; the message names where and what."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AsrSettings(_Section):
    model: str = Field("base", description="faster-whisper model: 'base' (assembled at setup), a model name, or a CTranslate2 directory")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = Field("default", description="CTranslate2 compute type; 'default' = int8 on CPU, float16 on GPU")
    cpu_threads: int = Field(0, ge=0, description="0 = let CTranslate2 decide")
    beam_size: int = Field(5, ge=1)
    batch_size: int = Field(0, ge=0, description=">0 uses faster-whisper's BatchedInferencePipeline with this batch size")
    language: str = "zh"
    vad: bool = True
    vad_min_silence_ms: int = Field(2000, ge=0, description="VAD: a pause this long ends a speech chunk (and is cut out); 2000 = faster-whisper's default. 500 glued sentences together and cost 5 CER points on simulated 8 kHz calls (bench/asr/README.md)")
    word_timestamps: bool = True
    hotwords: list[str] = Field(default_factory=list, description="domain words to bias decoding (products, brands)")
    initial_prompt: str | None = Field(None, description="text prompt; default builds a Simplified-Chinese prompt from hotwords")
    max_duration_s: float = Field(4 * 3600, gt=0, description="longer recordings are rejected with a recorded error")
    default_agent_channel: int = Field(0, ge=0, le=1, description="stereo: the agent's channel when calls.csv does not say")
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    condition_on_previous_text: bool = Field(True, description="prompt each 30 s window with the text before it (faster-whisper's default); off lost a character per ~1000 on simulated 8 kHz calls, and no loops were seen with it on (bench/asr/README.md)")
    temperature_fallback: bool = Field(False, description="re-decode a failing window by sampling at rising temperatures (Whisper's default). CTranslate2 seeds its sampler once per thread and offers no per-call seed, so with this on a call's text depends on what the process transcribed before (a resumed run differs from an uninterrupted one); off (the default) = beam search only, the same text for the same audio every time")
    phantom_phrases: list[str] = Field(
        default_factory=lambda: [
            "字幕由Amara.org社群提供", "请不吝点赞订阅", "点赞订阅转发打赏", "明镜与点点栏目",
            "谢谢观看", "感谢观看", "字幕志愿者", "中文字幕", "优优独播剧场", "请订阅", "小编",
        ],
        description="segments containing these are dropped as hallucinations",
    )
    batch_calls: int = Field(8, ge=1, description="calls per transcription batch (one mapped Airflow task each)")


class TextSettings(_Section):
    user_dict: Path | None = Field(None, description="extra jieba user dictionary (word [freq] [tag] per line)")
    stopwords: Path | None = Field(None, description="extra stopword file, one per line")
    domain_terms: list[str] = Field(default_factory=list, description="extra domain words for segmentation")
    redact: bool = Field(True, description="redact PII before text is stored; turning this off is not recommended")
    redact_names: bool = True
    redact_addresses: bool = True


class SentimentSettings(_Section):
    backend: Literal["auto", "model", "e5-stack", "lexicon", "snownlp", "sentence-transformers"] = Field(
        "auto", description="auto = the e5 stack behind a cascade: the shipped calibrated n-gram + lexicon model (hashlr+lex) scores every text, "
                            "and those within e5_band of 0.5 (default 0.15) get the e5-stack's "
                            "score; e5-stack: that model stacked with a logistic head on e5 vectors (hashlr+lex+e5) for every text, picked "
                            "by worst leave-one-domain-out and unseen-category accuracy (bench/sentiment); the e5 vectors come from the "
                            "store's embedding cache (the embed stage computes the ones needed) or are embedded batched (~10-20 texts/s "
                            "on 2 CPU cores); model: the n-gram + lexicon model alone (~1,600 texts/s, no e5; also what auto means with a "
                            "model_path); lexicon; snownlp; sentence-transformers")
    e5_band: float = Field(0.15, ge=0, le=0.5, description="backend auto: a text gets the e5 stack's score when the n-gram model's "
                           "P(positive) is within this of 0.5 (0 = the n-gram model alone; 0.15, the default = the cascade measured in "
                           "bench/sentiment/cascade.py: accuracy within 0.2 points of the full stack, e5 for ~10-15 % of texts; "
                           "0.5 = every text through e5). Below 0.5 a text the n-gram model is sure reads as praise gets no e5 "
                           "vector at all (no topic, service type from its words: voc.pipeline.embed.reads_as_praise), ~40 % of "
                           "review texts (bench/throughput)")
    model_path: Path | None = Field(None, description="trained scorer artifact (model: the n-gram npz; e5-stack: the head npz); default: the one shipped in voc/sentiment")
    st_model: str | None = Field(None, description="sentence-transformers model name/path for the 'sentence-transformers' backend")
    negative_threshold: float = Field(-0.35, description="utterance score below this counts as negative")
    positive_threshold: float = Field(0.35, description="utterance score above this counts as positive")
    escalation_threshold: float = Field(-0.6, description="a customer turn below this after a better start flags escalation")


class TopicSettings(_Section):
    embedder: Literal["auto", "e5", "e5-static", "tfidf", "sentence-transformers"] = "auto"
    st_model: str | None = Field(None, description="sentence-transformers model name or local path (production: a Chinese model)")
    static_table: Path | None = Field(None, description="the e5-static embedder's word table (npz); None = <models_dir>/e5-static/e5-static.npz, where voc models distill builds it")
    reduce_dim: int = Field(10, ge=0, description="PCA/UMAP target dimensions before HDBSCAN; 0 = none")
    reducer: Literal["pca", "umap"] = Field("pca", description="nightly: how the residue is reduced to reduce_dim before HDBSCAN (umap: umap-learn, cosine, min_dist 0, 15 neighbours, seeded; PCA below 30 documents or when umap-learn is not importable)")
    fit_reducer: Literal["pca", "umap"] = Field("pca", description="`voc topics fit`: PCA to 10 dimensions or UMAP to 5 before HDBSCAN (bench/topics/README.md: PCA measured better on the shared sets)")
    min_cluster_size: int = Field(8, ge=2)
    min_samples: int | None = Field(2, description="HDBSCAN min_samples (None = min_cluster_size)")
    assign_threshold: float = Field(0.94, description="raw cosine to a topic centroid to join it, used while the registry's centred space is not calibrated yet or with centre off (e5 raw similarities are compressed near 1)")
    merge_threshold: float | None = Field(None, description="merge two topics whose centroids are this similar; None = derived from the join threshold (raw: +0.05; centred: halfway to 1)")
    centre: bool = Field(True, description="take cosines after subtracting the registry's running mean vector (removes the embedder's common direction; see bench/topics)")
    assign_percentile: float = Field(95.0, ge=0, le=100, description="centred space: the join threshold is this percentile of documents' similarity to the centroid of min_cluster_size random documents (calibrated nightly, median of 30 nights kept in the registry); clusters below it are not topics")
    topic_percentile: float | None = Field(None, ge=0, le=100, description="centred space: each new topic also keeps this percentile of its founding members' similarity as its own, higher, bar; None = off")
    split_min_size: int = Field(8, ge=0, description="centred space: a topic whose members of the night form two modes (2-means; each mode a topic on its own, their centroids less similar than two topics that merge) gives a mode of at least this many documents to a new topic, with a 'split' event; 0 = off")
    split_min_gain: float = Field(0.1, ge=0, description="... and only when the leaving mode's documents are this much closer (median cosine) to their own centroid than to the topic's")
    remove_components: int = Field(0, ge=0, description="centred space: also project out this many top principal components ('all-but-the-top'), frozen at calibration")
    window_days: int = Field(30, ge=1, description="history used as the emerging-topic baseline")
    emerging_min_count: int = Field(5, ge=1)
    burst_min_count: int | None = Field(None, ge=2, description="documents a bursting term needs tonight; None = emerging_min_count")
    emerging_z: float = Field(3.0, description="Poisson z-score over the baseline that flags a topic as emerging")
    examples: int = Field(3, ge=1)
    pool_days: int = Field(3, ge=0, description="recluster the unassigned complaints of this many earlier days with the night's, so a theme of a few complaints a day can still form a topic (3 measured best, bench/topics/README.md; 0 = off)")
    min_chars: int = Field(4, ge=0, description="complaint texts shorter than this are not clustered")
    review_max_score: float = Field(0.0, description="reviews count as complaints only below this sentiment score")
    trend_min_count: int = Field(3, ge=1, description="a known topic with this many complaints today becomes a trend finding")
    trend_top_n: int = Field(10, ge=0, description="at most this many trend findings a day (besides emerging ones)")


class QASettings(_Section):
    rules_dir: Path | None = Field(None, description="folder of <queue>.yaml scripts; default: the shipped examples")
    default_script: str = "retail_after_sales"
    review_score_below: float = 70.0
    review_sample_rate: float = Field(0.05, ge=0, le=1, description="random share of other calls sent to review")
    fuzzy_pinyin: bool = True
    semantic_matching: bool = Field(False, description="also match script steps by e5 sentence similarity (slow: ~9 s a call on 2 cores)")
    step_model: bool = Field(True, description="recognise steps, complaints and rude paraphrases by meaning (calibrated e5 + n-gram classifier per script, learns from reviewers' step decisions); verdicts pass / fail / not sure")
    claim_lease_minutes: float = Field(30.0, gt=0, description="a review claim older than this is open again for other reviewers")


class RoutingSettings(_Section):
    departments_file: Path | None = Field(None, description="departments YAML; default: the shipped retail/appliance set")
    min_confidence: float = 0.35
    fallback_department: str = "customer_service"
    tier_weights: dict[str, float] = Field(default_factory=lambda: {"vip": 5.0, "gold": 2.0, "normal": 1.0})
    value_scale: float = Field(1000.0, gt=0, description="CLV that multiplies a customer's tier weight by 1.69 (log scale)")
    qa_pattern_min_calls: int = Field(2, ge=1, description="a QA rule failed by this many of a day's calls becomes a finding (forbidden phrases: 1)")
    embedder: Literal["e5", "e5-static", "sentence-transformers", "none"] = Field(
        "e5", description="sentence vectors of the routing classifier (none = character n-grams only); sentence-transformers uses topics.st_model")
    service_types_file: Path | None = Field(None, description="service types and their examples (YAML); default: the shipped file")
    topic_switch_margin: float = Field(0.2, ge=0, le=1, description="a topic's route moves to another department only when that department's share of the members' probability leads the standing one by this much")
    topic_member_days: int = Field(14, ge=1, description="a topic is routed on its members of this many days up to the run date")


class CustomerRiskWeights(_Section):
    """Points per signal in the churn-risk score (before the customer-value weight multiplies them)."""

    repeat: float = Field(2.0, ge=0, description="per repeat contact (same topic or service type within the window)")
    negative: float = Field(1.0, ge=0, description="per contact with a sentiment score at or below sentiment.negative_threshold")
    worsening: float = Field(1.5, ge=0, description="per call whose sentiment worsened, and once if it fell across contacts")
    escalation: float = Field(2.0, ge=0, description="per contact flagged as escalating")
    unresolved_qa: float = Field(1.5, ge=0, description="per contact whose QA review is still open, claimed or appealed")


class CustomerSettings(_Section):
    repeat_window_days: int = Field(7, ge=0, description="a contact is a repeat when the same customer comes back within this many days (inclusive: day 7 is a repeat, day 8 is not)")
    repeat_match: list[Literal["topic", "attribute", "text", "service_type"]] = Field(
        default_factory=lambda: ["topic", "attribute", "text", "service_type"],
        description="what makes two contacts 'about the same issue' (any of these): the same topic, the same order/product attribute, texts that mean the same (sentence vectors), or the same specific service type (repair/installation/maintenance) when there is nothing to compare")
    repeat_text_similarity: float = Field(0.25, ge=-1, le=1, description="centred sentence-vector cosine at which two contacts' texts are about the same issue (measured in bench/routing/eval_repeats.py)")
    repeat_attribute_keys: list[str] = Field(default_factory=lambda: ["order_id", "product"], description="interaction attributes that identify the issue's order or product")
    lookback_days: int = Field(30, ge=1, description="contacts up to this many days before the run date feed FCR, repeat and churn-risk figures")
    risk_weights: CustomerRiskWeights = Field(default_factory=CustomerRiskWeights)
    worsening_drop: float = Field(0.3, ge=0, description="sentiment falling by at least this much from first to last contact counts as worsening")
    top_n: int = Field(20, ge=1, description="at-risk customers listed in the report")
    outreach_match_keys: list[str] = Field(
        default_factory=lambda: ["batch", "product"],
        description="interaction attributes that make a silent customer share a complainer's exposure, strongest first; 'a+b' needs both")
    outreach_min_complainers: int = Field(2, ge=1, description="a batch/product value must appear among this many complainers before it is used to find others")
    outreach_min_share: float = Field(0.2, ge=0, le=1, description="... and among at least this share of the topic's complaining customers")
    outreach_metadata_days: int = Field(365, ge=1, description="how far back customers' product/batch/region metadata is searched")
    outreach_limit: int = Field(500, ge=1, description="most customers per outreach list")


class LimitSettings(_Section):
    """Per-item limits: one oversized or malformed input is cut, refused or stopped with a reason, never the night."""

    max_text_chars: int = Field(20_000, ge=100, description="a chat/ticket/review body (or one transcript utterance) longer than this is analysed by its first max_text_chars characters; the item records 'truncated' with the original length, and the original stays untouched in the inbox")
    max_field_chars: int = Field(2_000, ge=64, description="any other CSV/JSONL field longer than this quarantines its row (with the line number); the file's other rows go in")
    max_audio_mb: float = Field(1024.0, gt=0, description="recordings bigger than this are quarantined at ingest (see also asr.max_duration_s)")
    item_timeout_s: float = Field(300.0, ge=0, description="wall-clock budget of one item in the text, sentiment and qa stages; an item over it is recorded as failed and the stage goes on (0 = off; works in the main thread on POSIX)")
    earliest_date: dt.date = Field(dt.date(2000, 1, 1), description="start times/created_at before this are implausible: the row is quarantined")
    future_days: int = Field(1, ge=0, description="... and so are those more than this many days after the run's today")
    run_lock_wait_s: float = Field(3600.0, ge=0, description="a second `voc run` of a date that is running waits this long for the first to finish, then reports its result instead of redoing it (0 = exit at once with a message)")
    embed_max_chars: int = Field(512, ge=16, description="topics: a complaint is embedded by its first this-many characters (e5's window is 512 tokens; past that it costs seconds and adds nothing)")


class Webhook(_Section):
    name: str
    kind: Literal["wecom", "dingtalk", "feishu", "generic"]
    url: SecretStr
    secret: SecretStr | None = None
    departments: list[str] = Field(default_factory=list, description="empty = all")


class ReportSettings(_Section):
    formats: list[Literal["md", "html", "csv"]] = Field(default_factory=lambda: ["md", "html", "csv"])
    webhooks: list[Webhook] = Field(default_factory=list)
    webhook_timeout_s: float = 10.0
    webhook_retries: int = 3
    webhook_rate_per_minute: int = 20
    webhook_max_age_days: int = Field(3, ge=0, description="digests of older business dates are written but not sent, so a backfill does not flood chat groups")
    top_n: int = Field(10, ge=1, description="findings listed in the management overview")


class WebSettings(_Section):
    host: str = Field("127.0.0.1", description="address `voc serve` listens on")
    port: int = Field(8765, ge=1, le=65535)
    secret_key: SecretStr | None = Field(None, description="signs session cookies; unset = a random key per start (everyone is logged out on restart)")
    session_max_age_s: int = Field(8 * 3600, ge=60, description="a login lasts this long")
    secure_cookies: bool = Field(False, description="send the session cookie over HTTPS only (turn on behind TLS)")
    page_size: int = Field(200, ge=1, le=5000, description="rows per queue page")
    show_attributes: list[str] = Field(default_factory=lambda: ["product", "region"],
                                       description="interaction attributes shown to reviewers (others may hold raw PII)")
    login_max_failures: int = Field(5, ge=1, description="failed logins of one user name within login_window_s before it is locked")
    login_max_failures_per_address: int = Field(50, ge=1, description="failed logins from one client address within login_window_s before it is locked (many users may share an office address)")
    login_window_s: float = Field(300.0, gt=0, description="counting window; a lock lasts this long, doubling with each repeated lock")
    login_max_lock_s: float = Field(3600.0, gt=0, description="longest lock after repeated lockouts")


class Settings(BaseSettings):
    """Every setting voc reads. See voc.example.yaml for the commented version."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_NESTED, extra="forbid", validate_default=True
    )

    database_url: SecretStr = Field(SecretStr("sqlite:///voc-data/voc.db"), description="SQLAlchemy URL")
    inbox: Path = Field(Path("inbox"), description="folder with recordings/, calls.csv and text/")
    exports_dir: Path = Field(Path("exports"), description="outputs go to exports/<run-date>/")
    models_dir: Path = Field(Path("voc-data/models"), description="where assembled models live")
    timezone: str = "Asia/Shanghai"
    seed: int = 42
    id_secret: SecretStr | None = Field(None, description="key of the HMAC that replaces identifiers which look like a phone, ID-card or bank-card number (customer_id, call_id, record id, agent_id) at ingest; set VOC_ID_SECRET in production. Unset: a random key kept in the database (joins still work; anyone with the database can recompute it)")
    limits: LimitSettings = Field(default_factory=LimitSettings)
    asr: AsrSettings = Field(default_factory=AsrSettings)
    text: TextSettings = Field(default_factory=TextSettings)
    sentiment: SentimentSettings = Field(default_factory=SentimentSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    qa: QASettings = Field(default_factory=QASettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    customers: CustomerSettings = Field(default_factory=CustomerSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        # init kwargs carry the YAML file's values (see load_settings); env wins over them.
        return (env_settings, init_settings)

    @property
    def db_url(self) -> str:
        return self.database_url.get_secret_value()


def find_config_file(explicit: str | Path | None = None, environ: dict[str, str] | None = None) -> Path | None:
    environ = os.environ if environ is None else environ
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        return path
    if environ.get("VOC_CONFIG"):
        return find_config_file(environ["VOC_CONFIG"], environ)
    for name in DEFAULT_CONFIG_FILES:
        if Path(name).is_file():
            return Path(name)
    return None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return data


def _source_of(loc: tuple[Any, ...], environ: Any, data: dict[str, Any], path: Path | None) -> str:
    """Where a bad value came from: its environment variable (which wins), else the YAML file, else the defaults."""
    keys = [str(p) for p in loc]
    for depth in range(len(keys), 0, -1):  # VOC_ASR__BEAM_SIZE, else a whole VOC_ASR given as JSON
        name = ENV_PREFIX + ENV_NESTED.join(keys[:depth]).upper()
        if any(k.upper() == name for k in environ):
            return f"environment variable {name}"
    node: Any = data
    for k in keys:
        if not isinstance(node, dict) or k not in node:
            return "settings (defaults)" if path is None else f"{path} (or its defaults)"
        node = node[k]
    return str(path) if path else "settings"


def load_settings(config_file: str | Path | None = None, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings. ``overrides`` (e.g. from CLI flags) win over everything."""
    path = find_config_file(config_file, environ)
    data = _read_yaml(path) if path else {}
    data.update(overrides)
    saved = None
    if environ is not None:  # tests pass an explicit environment
        saved = dict(os.environ)
        for key in [k for k in os.environ if k.startswith(ENV_PREFIX)]:
            del os.environ[key]
        os.environ.update({k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)})
    try:
        return Settings(**data)
    except ValidationError as exc:
        env = os.environ if environ is None else environ
        problems = "; ".join(f"{_source_of(e['loc'], env, data, path)}: {'.'.join(str(p) for p in e['loc'])}: "
                             f"{e['msg']}" for e in exc.errors())
        raise ConfigError(problems) from exc
    finally:
        if saved is not None:
            os.environ.clear()
            os.environ.update(saved)


def describe_settings(settings: Settings, config_file: Path | None = None, environ: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Flatten settings into rows ``{key, value, source}``; secrets masked.

    source is ``env (VOC_X)``, the YAML file's name, or ``default``.
    """
    environ = os.environ if environ is None else environ
    yaml_data = _read_yaml(config_file) if config_file else {}
    env_keys = {k[len(ENV_PREFIX):].lower(): k for k in environ if k.startswith(ENV_PREFIX) and k != "VOC_CONFIG"}
    rows: list[dict[str, Any]] = []

    def walk(model: BaseModel, prefix: tuple[str, ...], ydata: Any) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            keypath = prefix + (name,)
            sub_yaml = ydata.get(name) if isinstance(ydata, dict) else None
            if isinstance(value, BaseModel):
                walk(value, keypath, sub_yaml)
                continue
            env_key = ENV_NESTED.join(keypath).lower()
            parent_env = ENV_NESTED.join(keypath[:1]).lower()
            if env_key in env_keys:
                source = f"env ({env_keys[env_key]})"
            elif len(keypath) > 1 and parent_env in env_keys:
                source = f"env ({env_keys[parent_env]})"
            elif isinstance(ydata, dict) and name in ydata:
                source = str(config_file)
            else:
                source = "default"
            rows.append({"key": ".".join(keypath), "value": _display(value), "source": source})

    walk(settings, (), yaml_data)
    return rows


def _display(value: Any) -> Any:
    if isinstance(value, SecretStr):
        raw = value.get_secret_value()
        # Show the scheme of a URL so people can tell sqlite from postgres, hide the rest.
        if "://" in raw and raw.startswith(("sqlite", "postgresql", "postgres")):
            scheme, rest = raw.split("://", 1)
            if "@" in rest:
                return f"{scheme}://***@{rest.split('@', 1)[1]}"
            return raw
        return "***" if raw else ""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [_display(v) for v in value]
    if isinstance(value, BaseModel):
        return {k: _display(v) for k, v in value.model_dump().items()}
    return value


def example_yaml() -> str:
    """A commented YAML file with every setting at its default (voc.example.yaml is this output)."""
    lines = [
        "# voc settings. Precedence: environment VOC_* (nested with __, e.g. VOC_ASR__BEAM_SIZE=1)",
        "# > this file (./voc.yaml, or the path in VOC_CONFIG / --config) > defaults.",
        "# Every setting is shown at its default; delete what you do not change.",
        "",
    ]

    def dump_value(value: Any) -> str:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, Path):
            value = str(value)
        text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10_000).strip()
        return text.removesuffix("...").strip()

    def walk(model_cls: type[BaseModel], instance: BaseModel, indent: int) -> None:
        pad = "  " * indent
        for name, info in model_cls.model_fields.items():
            value = getattr(instance, name)
            if info.description:
                lines.append(f"{pad}# {info.description}")
            if isinstance(value, BaseModel):
                lines.append(f"{pad}{name}:")
                walk(type(value), value, indent + 1)
                lines.append("")
            elif name == "webhooks":
                lines.append(f"{pad}# list of {{name, kind: wecom|dingtalk|feishu|generic, url, secret, departments: []}}")
                lines.append(f"{pad}{name}: []")
            else:
                lines.append(f"{pad}{name}: {dump_value(value)}")

    defaults = Settings.model_construct()
    for name, info in Settings.model_fields.items():
        if info.default_factory is not None:
            setattr(defaults, name, info.default_factory())
        else:
            setattr(defaults, name, info.default)
    walk(Settings, defaults, 0)
    return "\n".join(lines).rstrip() + "\n"

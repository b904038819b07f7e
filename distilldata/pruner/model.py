"""The reranker-pruner: a sequence-classification encoder (ranking logit) + a token keep/drop head.

`ProvencePruner.from_backbone(name)` starts training from any `AutoModelForSequenceClassification`
checkpoint (a cross-encoder reranker, or a plain encoder whose classifier starts random);
`save_pretrained` writes the backbone's own config (plus the pruner keys), the merged weights
(`backbone.*`, `pruning_head.*`) and, through the trainer, the tokenizer, so
`ProvencePruner.from_pretrained(folder)` loads it back without `trust_remote_code`.

Loss (as the seed): `ranking_weight * MSE(raw ranking logit, target)` +
`pruning_weight * CE(token logits, token labels; ignore -100)`; the pruning term is 0 when no
token is labelled. Optional (`sentence_loss_weight` > 0, not in the seed): a listwise term per
text that holds a relevant sentence, softmax over its sentences' mean keep-logit, cross-entropy
on the relevant ones (`sentence_listwise_loss`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, PretrainedConfig
from transformers.modeling_outputs import ModelOutput
from transformers.modeling_utils import PreTrainedModel

from distilldata.core.models import model_folder

DEFAULT_THRESHOLD = 0.1
MATCH_SOURCES = ("lexical", "contextual")
MATCH_INIT = 4.0  # initial keep-logit gain per unit of match: starts near the lexical baseline


@dataclass
class PrunerOutput(ModelOutput):
    loss: torch.Tensor | None = None
    ranking_logits: torch.Tensor | None = None  # [batch]
    pruning_logits: torch.Tensor | None = None  # [batch, seq, 2]
    ranking_loss: torch.Tensor | None = None
    pruning_loss: torch.Tensor | None = None
    sentence_loss: torch.Tensor | None = None


def pruner_losses(
    ranking_logits: torch.Tensor,
    pruning_logits: torch.Tensor,
    ranking_targets: torch.Tensor | None,
    token_labels: torch.Tensor | None,
    ranking_weight: float = 0.05,
    pruning_weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, ranking, pruning) losses; a missing target contributes 0."""
    zero = ranking_logits.new_zeros(())
    ranking = zero
    if ranking_targets is not None:
        ranking = nn.functional.mse_loss(ranking_logits.float(), ranking_targets.float())
    pruning = zero
    if token_labels is not None and bool((token_labels != -100).any()):
        pruning = nn.functional.cross_entropy(
            pruning_logits.float().reshape(-1, 2), token_labels.reshape(-1), ignore_index=-100
        )
    return ranking_weight * ranking + pruning_weight * pruning, ranking, pruning


def sentence_membership(sentence_index: torch.Tensor) -> torch.Tensor:
    """[batch, tokens, sentences] one-hot of each token's sentence (int); tokens outside every
    sentence (index -1) are all 0."""
    n = int(sentence_index.max().clamp(min=-1)) + 1
    return nn.functional.one_hot((sentence_index + 1).clamp(min=0), n + 1)[..., 1:]


def sentence_listwise_loss(
    pruning_logits: torch.Tensor, token_labels: torch.Tensor, sentence_index: torch.Tensor
) -> torch.Tensor:
    """-log(softmax mass on the relevant sentences), averaged over texts that have one.

    A sentence's score is the mean keep-margin (logit keep - logit drop) of its labelled tokens
    (inference thresholds their mean keep-probability, which orders sentences much the same
    way). The token cross-entropy judges every token on its own, mostly easy zeros; this term
    asks directly for the answer sentence to outrank its neighbours, which is what
    best-threshold F2 within a paragraph rewards.
    """
    labelled = (token_labels != -100).unsqueeze(-1)
    member = (sentence_membership(sentence_index) * labelled).float()  # labelled tokens only
    margin = (pruning_logits[..., 1] - pruning_logits[..., 0]).float()
    count = member.sum(1)  # [batch, sentences]
    score = (member * margin.unsqueeze(-1)).sum(1) / count.clamp(min=1)
    relevant = (member * (token_labels == 1).unsqueeze(-1)).sum(1) > 0
    present = count > 0
    score = score.masked_fill(~present, float("-inf"))
    has = relevant.any(1)
    if not bool(has.any()):
        return pruning_logits.new_zeros(())
    every = torch.logsumexp(score[has], dim=1)
    gold = torch.logsumexp(score[has].masked_fill(~relevant[has], float("-inf")), dim=1)
    return (every - gold).mean()


def _load_tokenizer(path):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError):
        return None  # a bare checkpoint without tokenizer files: set `model.tokenizer` yourself


def sentence_query_features(
    hidden: torch.Tensor, query_mask: torch.Tensor | None, sentence_index: torch.Tensor | None
) -> torch.Tensor:
    """Per token: unit(mean state of its sentence) * unit(mean state of the query) * hidden.

    The features sum to `hidden * cos(sentence, query)`, so an equal-weight head reads the
    bi-encoder similarity that a sentence-embedding backbone was trained for; tokens outside
    any sentence use their own state. Without masks, every token's own state and the [CLS]
    state stand in for the sentence and the query.
    """
    width = hidden.shape[-1]
    if query_mask is None:
        query = hidden[:, :1, :]
    else:
        weights = query_mask.to(hidden.dtype).unsqueeze(-1)
        query = (hidden * weights).sum(1, keepdim=True) / weights.sum(1, keepdim=True).clamp(min=1)
    pooled = hidden
    if sentence_index is not None and bool((sentence_index >= 0).any()):
        member = sentence_membership(sentence_index).to(hidden.dtype)
        sums = member.transpose(1, 2) @ hidden  # [batch, sentences, width]
        means = sums / member.sum(1).unsqueeze(-1).clamp(min=1)
        inside = member.sum(-1, keepdim=True)  # 1 for tokens in a sentence
        pooled = member @ means + (1 - inside) * hidden
    unit = nn.functional.normalize
    return unit(pooled, dim=-1) * unit(query, dim=-1) * width


def query_match_features(
    sources: list[torch.Tensor],
    query_weights: torch.Tensor,
    query_mask: torch.Tensor,
    sentence_index: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per token and per text: how well its sentence covers the query (DrQA-style alignment).

    For each source of token vectors (the input word embeddings = lexical match, the last
    hidden states = contextual match): cos(sentence token, query token), max over the tokens
    of each sentence, then averaged over query tokens with `query_weights` (a learned
    importance per query token, softmax over the query). Returns (token features
    [batch, tokens, n_sources], text features [batch, n_sources] = max over sentences); tokens
    outside every sentence get 0. A sentence holding the query's rare words scores near 1
    without any cross-attention having been trained, which is what lets a bi-encoder backbone
    learn pruning from a few thousand pairs.
    """
    batch, tokens = query_mask.shape
    mask = query_mask.bool()
    n_query = int(mask.sum(1).max().clamp(min=1))
    positions = torch.arange(tokens, device=mask.device).expand(batch, tokens)
    order = torch.argsort((~mask).long() * tokens + positions, dim=1)[:, :n_query]
    valid = torch.gather(mask, 1, order)  # [batch, query]
    weights = torch.gather(query_weights, 1, order).masked_fill(~valid, -1e4)
    weights = torch.softmax(weights.float(), dim=-1) * valid  # [batch, query]
    if not bool((sentence_index >= 0).any()):
        zeros = query_weights.new_zeros(batch, tokens, len(sources))
        return zeros, query_weights.new_zeros(batch, len(sources))
    member = sentence_membership(sentence_index).bool().transpose(1, 2)  # [batch, sent, tokens]
    has = member.any(-1)  # [batch, sentences]: the sentence has a token in this block
    inside = sentence_index >= 0
    token_feats, text_feats = [], []
    for source in sources:
        unit = nn.functional.normalize(source.float(), dim=-1)
        query = torch.gather(unit, 1, order.unsqueeze(-1).expand(-1, -1, unit.shape[-1]))
        sim = unit @ query.transpose(1, 2)  # [batch, tokens, query]
        best = sim.unsqueeze(1).masked_fill(~member.unsqueeze(-1), -1.0).amax(2)
        per_sentence = (best * weights.unsqueeze(1)).sum(-1)  # [batch, sentences]
        per_sentence = per_sentence.masked_fill(~has, 0.0)
        gathered = torch.gather(per_sentence, 1, sentence_index.clamp(min=0))
        token_feats.append(gathered.masked_fill(~inside, 0.0))
        text_feats.append(per_sentence.masked_fill(~has, -1.0).amax(1).clamp(min=0.0))
    return torch.stack(token_feats, -1), torch.stack(text_feats, -1)


class ProvencePruner(PreTrainedModel):
    """Encoder + ranking logit (the backbone's classifier) + per-token `Linear(hidden, 2)`."""

    config_class = PretrainedConfig
    base_model_prefix = "pruner"
    supports_gradient_checkpointing = True
    _no_split_modules: list[str] = []
    # The backbone implements attention; these only let the wrapper pass the choice through.
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True

    def __init__(self, config: PretrainedConfig):
        super().__init__(config)
        config.num_labels = 1
        self.backbone = AutoModelForSequenceClassification.from_config(config)
        dropout = getattr(config, "pruner_dropout", None)
        if dropout is None:
            dropout = getattr(config, "hidden_dropout_prob", 0.1) or 0.0
        self.sentence_features = bool(getattr(config, "pruner_sentence_features", False))
        width = config.hidden_size * (2 if self.sentence_features else 1)
        self.pruning_head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, 2))
        self.match_features = bool(getattr(config, "pruner_match_features", False))
        if self.match_features:
            self.query_weight = nn.Linear(config.hidden_size, 1)
            self.match_head = nn.Linear(len(MATCH_SOURCES), 2)
            self.match_rank = nn.Linear(len(MATCH_SOURCES), 1)
        self.ranking_weight = getattr(config, "ranking_weight", 0.05)
        self.pruning_weight = getattr(config, "pruning_weight", 1.0)
        self.sentence_loss_weight = getattr(config, "sentence_loss_weight", 0.0)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if module is getattr(self, "pruning_head", None) or isinstance(module, nn.Linear):
            std = getattr(self.config, "initializer_range", 0.02)
            for sub in module.modules() if not isinstance(module, nn.Linear) else [module]:
                if isinstance(sub, nn.Linear):
                    nn.init.normal_(sub.weight, mean=0.0, std=std)
                    if sub.bias is not None:
                        nn.init.zeros_(sub.bias)
        if module is getattr(self, "match_head", None):
            with torch.no_grad():
                module.weight.zero_()
                module.weight[1].fill_(MATCH_INIT)
                module.bias.zero_()
        if module is getattr(self, "match_rank", None):
            with torch.no_grad():
                module.weight.fill_(MATCH_INIT)
                module.bias.zero_()

    @classmethod
    def from_backbone(
        cls,
        name_or_path: str,
        classifier_dropout: float | None = None,
        max_length: int = 512,
        ranking_weight: float = 0.05,
        pruning_weight: float = 1.0,
        sentence_features: bool = False,
        match_features: bool = False,
        sentence_loss_weight: float = 0.0,
    ) -> ProvencePruner:
        """A fresh pruner on top of a (cross-)encoder checkpoint; the heads start random.

        `sentence_features` widens the token head's input with the query/sentence match
        (`sentence_query_features`), which lets a bi-encoder backbone (MiniLM) learn fast.
        """
        backbone = AutoModelForSequenceClassification.from_pretrained(name_or_path, num_labels=1)
        config = backbone.config
        config.pruner_dropout = classifier_dropout
        config.pruner_max_length = max_length
        config.default_threshold = DEFAULT_THRESHOLD
        config.ranking_weight = ranking_weight
        config.pruning_weight = pruning_weight
        config.sentence_loss_weight = sentence_loss_weight
        config.pruner_sentence_features = sentence_features
        config.pruner_match_features = match_features
        config.architectures = [cls.__name__]
        model = cls(config)
        model.backbone = backbone
        model.tokenizer = _load_tokenizer(name_or_path)
        return model

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs) -> ProvencePruner:
        """Load a saved pruner folder (the config is the backbone's own type); a file in the
        folder (`final_model/model.safetensors`, as a rule declares it) names the folder."""
        if isinstance(pretrained_model_name_or_path, str | os.PathLike):
            pretrained_model_name_or_path = str(model_folder(pretrained_model_name_or_path))
        if "config" not in kwargs:
            kwargs["config"] = AutoConfig.from_pretrained(pretrained_model_name_or_path)
        model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        model.tokenizer = _load_tokenizer(pretrained_model_name_or_path)
        return model

    def freeze_word_embeddings(self) -> None:
        """Keep the input embeddings fixed: the lexical match features (cosines of these
        vectors) stay a stable signal, and each step skips the update of the largest matrix."""
        self.backbone.get_input_embeddings().weight.requires_grad_(False)

    @property
    def max_length(self) -> int:
        return int(getattr(self.config, "pruner_max_length", 512))

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        token_labels: torch.Tensor | None = None,
        ranking_targets: torch.Tensor | None = None,
        query_mask: torch.Tensor | None = None,
        sentence_index: torch.Tensor | None = None,
    ) -> PrunerOutput:
        extra = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        out = self.backbone(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_hidden_states=True,
            return_dict=True,
            **extra,
        )
        ranking_logits = out.logits.squeeze(-1)
        hidden = out.hidden_states[-1]
        if self.sentence_features:
            hidden = torch.cat(
                [hidden, sentence_query_features(hidden, query_mask, sentence_index)], dim=-1
            )
        pruning_logits = self.pruning_head(hidden)
        if self.match_features and query_mask is not None and sentence_index is not None:
            static = self.backbone.get_input_embeddings()(input_ids)
            last = out.hidden_states[-1]
            token_feats, text_feats = query_match_features(
                [static, last], self.query_weight(last).squeeze(-1), query_mask, sentence_index
            )
            pruning_logits = pruning_logits + self.match_head(token_feats.to(last.dtype))
            ranking_logits = ranking_logits + self.match_rank(text_feats.to(last.dtype)).squeeze(-1)
        loss = ranking = pruning = None
        if token_labels is not None or ranking_targets is not None:
            loss, ranking, pruning = pruner_losses(
                ranking_logits,
                pruning_logits,
                ranking_targets,
                token_labels,
                self.ranking_weight,
                self.pruning_weight,
            )
        listwise = None
        if self.sentence_loss_weight and token_labels is not None and sentence_index is not None:
            listwise = sentence_listwise_loss(pruning_logits, token_labels, sentence_index)
            loss = loss + self.sentence_loss_weight * listwise
        return PrunerOutput(
            loss=loss,
            ranking_logits=ranking_logits,
            pruning_logits=pruning_logits,
            ranking_loss=ranking,
            pruning_loss=pruning,
            sentence_loss=listwise,
        )

    def process(self, question, context, threshold: float | None = None, **kwargs):
        """Prune contexts for questions; see `distilldata.pruner.inference.process`."""
        from distilldata.pruner.inference import process

        if threshold is None:
            threshold = getattr(self.config, "default_threshold", DEFAULT_THRESHOLD)
        return process(self, question, context, threshold=threshold, **kwargs)

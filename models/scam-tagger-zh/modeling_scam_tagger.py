# Generated from analyzer.model.modeling by analyzer.model.hub.write_hub_files; do not edit (rerun the release step).
# Self-contained: needs torch and transformers only. Load with
#     transformers.AutoModel.from_pretrained(FOLDER, trust_remote_code=True)
"""The tactic tagger: a BERT turn encoder under a causal GRU over the call.

Each turn (its normalised text, no speaker name) is encoded on its own (mean- and max-pooled, at most
`max_turn_tokens`); a one-layer GRU reads the
turn vectors in order, so a turn's tactics and the running scam risk see every earlier turn and never a later one.
Live mode therefore costs one short encoder pass and one GRU step per new turn, whatever the call's length.
Registered with transformers' Auto classes as model_type "scam-dialogue-tagger".
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, BertConfig, BertModel, PretrainedConfig, PreTrainedModel

SCAM_TYPES = ('ecommerce_refund', 'fake_police', 'student_loan', 'financial_product_cancel', 'fake_loan', 'order_brushing', 'fake_investment', 'romance', 'impersonate_acquaintance', 'prize_lottery', 'second_hand', 'medical_etc', 'kidnapping', 'bank_phishing', 'identity_theft', 'phishing', 'postal_parcel', 'credit_card_limit', 'tax_refund', 'flight_rebooking', 'ticket_scalping', 'rental', 'recruitment', 'military_procurement', 'game_trading', 'crypto', 'teacher_fee', 'online_gambling', 'customs_smuggling', 'sextortion', 'deepfake_impersonation', 'fake_sms_points', 'wechat_agent', 'pension_social_security', 'traffic_violation', 'fake_charity', 'refund_recovery', 'health_products', 'telecom_upgrade', 'fan_reward', 'insurance_refund', 'debt_collection', 'utility_bill', 'visa_study', 'pet_sale', 'antique_collection', 'money_mule', 'credit_card_issuance', 'certificate_exam', 'digital_rmb', 'overseas_job', 'fake_shopping', 'other')
TACTIC_IDS = ('impersonation', 'info_leverage', 'pretext', 'lure', 'urgency', 'threat', 'isolation', 'guided_operation', 'fake_insurance', 'sensitive_info', 'transfer')


class ScamTaggerConfig(PretrainedConfig):
    model_type = "scam-dialogue-tagger"

    def __init__(self, encoder: Optional[dict] = None, tactic_ids=TACTIC_IDS, scam_types=tuple(SCAM_TYPES),
                 context_size: int = 256, max_turn_tokens: int = 64, dropout: float = 0.1,
                 risk_temperature: float = 1.0, decision: Optional[dict] = None, base_model: str = "",
                 pooling: str = "mean_max", tactic_pos_weight: float = 2.0, lexical_weight: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder or BertConfig().to_dict()
        self.tactic_ids = list(tactic_ids)
        self.scam_types = list(scam_types)
        self.context_size = context_size
        self.max_turn_tokens = max_turn_tokens
        self.dropout = dropout
        self.risk_temperature = risk_temperature
        self.decision = decision or {}
        self.base_model = base_model
        self.pooling = pooling
        self.tactic_pos_weight = tactic_pos_weight
        self.lexical_weight = lexical_weight  # share of the lexical channel (analyzer.model.lexical) in tactic probs


class ScamTaggerModel(PreTrainedModel):
    config_class = ScamTaggerConfig
    base_model_prefix = "tagger"
    _no_split_modules = ["BertLayer"]

    def __init__(self, config: ScamTaggerConfig):
        super().__init__(config)
        enc_cfg = BertConfig(**{k: v for k, v in config.encoder.items() if k not in ("model_type", "architectures")})
        self.encoder = BertModel(enc_cfg, add_pooling_layer=False)
        hidden = enc_cfg.hidden_size * (2 if config.pooling == "mean_max" else 1)
        self.dropout = nn.Dropout(config.dropout)
        self.context = nn.GRU(hidden + 1, config.context_size, batch_first=True)
        self.tactic_head = nn.Linear(hidden + config.context_size, len(config.tactic_ids))
        self.risk_head = nn.Linear(config.context_size, 1)
        self.type_head = nn.Linear(config.context_size, len(config.scam_types))
        self.post_init()

    def _init_weights(self, module):
        # only the new heads are initialised here; the encoder keeps its pretrained weights
        if isinstance(module, nn.Linear) and module in (getattr(self, "tactic_head", None),
                                                        getattr(self, "risk_head", None),
                                                        getattr(self, "type_head", None)):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    def encode_turns(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(N, L) token ids -> turn vectors: mean-pooled, and max-pooled too (keywords matter for tactics)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        if self.config.pooling != "mean_max":
            return mean
        peak = hidden.masked_fill(mask == 0, torch.finfo(hidden.dtype).min).amax(1)
        return torch.cat([mean, peak], dim=-1)

    def heads(self, turn_vectors: torch.Tensor, context: torch.Tensor):
        """Per-turn tactic logits, risk logits and scam-type logits from turn vectors and GRU outputs."""
        tactic_logits = self.tactic_head(self.dropout(torch.cat([turn_vectors, context], dim=-1)))
        risk_logits = self.risk_head(self.dropout(context)).squeeze(-1)
        type_logits = self.type_head(self.dropout(context))
        return tactic_logits, risk_logits, type_logits

    def forward(self, input_ids, attention_mask, turn_counts, first_speaker, tactic_labels=None, tactic_mask=None,
                dialogue_labels=None, type_labels=None, risk_weights=None):
        """Dialogues flattened into turns: `turn_counts[b]` turns of dialogue b, in order, in input_ids.

        first_speaker: (N,) 1.0 where the turn's speaker is the dialogue's first speaker.
        Labels (optional): tactic_labels (N, K) with tactic_mask (N,) for turns that have gold tactics,
        dialogue_labels (B,) 1/0, type_labels (B,) index or -100.
        """
        vectors = self.encode_turns(input_ids, attention_mask)
        result = self.forward_vectors(vectors, turn_counts, first_speaker)
        if dialogue_labels is not None:
            result["loss"] = self._loss(result, turn_counts, tactic_labels, tactic_mask, dialogue_labels, type_labels,
                                        risk_weights)
        return result

    def forward_vectors(self, vectors, turn_counts, first_speaker):
        """The causal context and the heads over precomputed turn vectors (N, H) of dialogues flattened in order."""
        features = torch.cat([vectors, first_speaker.unsqueeze(-1).to(vectors.dtype)], dim=-1)
        chunks = torch.split(features, list(turn_counts))
        padded = nn.utils.rnn.pad_sequence(chunks, batch_first=True)
        packed = nn.utils.rnn.pack_padded_sequence(padded, torch.as_tensor(list(turn_counts)), batch_first=True,
                                                   enforce_sorted=False)
        out, _ = self.context(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        context = torch.cat([out[b, :n] for b, n in enumerate(turn_counts)])  # back to (N, C)
        tactic_logits, risk_logits, type_logits = self.heads(vectors, context)
        return {"tactic_logits": tactic_logits, "risk_logits": risk_logits, "type_logits": type_logits}

    def _loss(self, result, turn_counts, tactic_labels, tactic_mask, dialogue_labels, type_labels, risk_weights):
        counts = torch.as_tensor(list(turn_counts))
        turn_dialogue_labels = torch.repeat_interleave(dialogue_labels.float(), counts)
        risk_loss = nn.functional.binary_cross_entropy_with_logits(result["risk_logits"], turn_dialogue_labels,
                                                                   weight=risk_weights)
        loss = risk_loss
        if tactic_mask is not None and tactic_mask.any():
            # summed over tactics, averaged over turns; positives up-weighted (tactics are rare per turn)
            logits = result["tactic_logits"][tactic_mask]
            weight = logits.new_tensor(self.config.tactic_pos_weight)
            per_turn = nn.functional.binary_cross_entropy_with_logits(
                logits, tactic_labels[tactic_mask].float(), pos_weight=weight, reduction="none").sum(-1)
            loss = loss + per_turn.mean()
        last = torch.cumsum(counts, 0) - 1
        if type_labels is not None and (type_labels >= 0).any():
            loss = loss + 0.3 * nn.functional.cross_entropy(result["type_logits"][last], type_labels, ignore_index=-100)
        return loss

    @torch.no_grad()
    def step(self, input_ids, attention_mask, is_first_speaker: bool, state: Optional[torch.Tensor]):
        """Live mode: one new turn (1, L) and the GRU state -> (tactic probs, risk, type probs, new state)."""
        vector = self.encode_turns(input_ids, attention_mask)
        feature = torch.cat([vector, vector.new_tensor([[float(is_first_speaker)]])], dim=-1)
        out, state = self.context(feature.unsqueeze(1), state)
        tactic_logits, risk_logits, type_logits = self.heads(vector, out[:, 0])
        return (torch.sigmoid(tactic_logits[0]), torch.sigmoid(risk_logits[0] / self.config.risk_temperature),
                torch.softmax(type_logits[0], -1), state)

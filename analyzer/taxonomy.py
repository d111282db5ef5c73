"""The tactic taxonomy: the one place that names tactics, scam types and risk levels.

Every other module (readers, rules, model, chain, evaluation, faces) imports these ids
instead of spelling them, so a rename happens here or nowhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args


@dataclass(frozen=True)
class Tactic:
    id: str
    zh: str
    en: str
    definition: str
    examples: tuple[str, ...]


TACTICS: tuple[Tactic, ...] = (
    Tactic("impersonation", "冒充身份", "Impersonation",
           "Claims a false identity or authority: e-commerce or courier customer service, bank, Alipay/WeChat/JD, "
           "police/procuratorate/court, a government office, an insurer, a relative or boss.",
           ("您好，我是淘宝官方售后客服，工号3306。", "这里是上海市公安局刑侦支队。")),
    Tactic("info_leverage", "信息取信", "Information leverage",
           "Recites the victim's personal data (name, order, tracking number, address, purchase) to win trust.",
           ("您是王秀英女士吧？您3月5号在拼多多买了一款儿童面霜，订单尾号4471。",)),
    Tactic("pretext", "虚构事由", "Fabricated pretext",
           "A fabricated problem: harmful or defective product, lost parcel, account anomaly, suspected crime, a loan "
           "or 借贷关系 created by mistake, student-loan cancellation, auto-renewal fee.",
           ("您买的面霜被检测出荧光剂超标。", "您大学期间开通了校园贷账户，现在需要注销。")),
    Tactic("lure", "利益诱惑", "Lure",
           "Compensation, refund, prize, rebate or high-return bait (双倍/三倍赔偿, 理赔, 返利).",
           ("我们会给您三倍赔偿，一共是八百九十七元。", "做一单返佣金百分之十五。")),
    Tactic("urgency", "制造紧迫", "Urgency",
           "Time pressure: 马上, 今天之内, 逾期, 名额有限, 不要挂电话.",
           ("今天下午五点前不处理就来不及了。", "名额只剩最后三个。")),
    Tactic("threat", "恐吓威胁", "Threat",
           "A threatened consequence: penalty fee (违约金), credit record (征信), frozen account, arrest, monthly "
           "deductions.",
           ("不注销的话会影响您的征信，以后房贷车贷都办不了。", "每个月会自动扣您五百块。")),
    Tactic("isolation", "隔离控制", "Isolation",
           "Cuts the victim off from help: keep it secret, nobody else present, don't tell family or bank, move to a "
           "private app, stay on the line.",
           ("这是保密案件，不能告诉任何人，包括您的家人。", "操作的时候身边不能有第二个人。")),
    Tactic("guided_operation", "诱导操作", "Guided operation",
           "Directs actions in apps: download an app, join a meeting, share the screen, click a link, scan a code, "
           "open or close a function step by step.",
           ("您下载一个腾讯会议，输入会议号，然后点共享屏幕。",)),
    Tactic("fake_insurance", "虚假保险担保", "Fake insurance or guarantee",
           "Fake insurance, credit guarantee, deposit, 保证金, 验资, 解冻费, 银行卡保险, a policy shown as 待生效.",
           ("您的银行卡保险现在显示待生效，需要存入验资金激活。",)),
    Tactic("sensitive_info", "索要敏感信息", "Sensitive-information request",
           "Asks for card numbers, verification codes, passwords, ID numbers, logins.",
           ("把手机收到的六位验证码念给我。", "报一下您的银行卡号和身份证号。")),
    Tactic("transfer", "诱导转账借贷", "Transfer or loan request",
           "Asks to pay or transfer money, to a safe account, to take out a loan or borrow from friends, to buy cards.",
           ("把钱转到这个安全账户。", "您在借呗上借出五万，再转到指定账户。")),
)

TACTIC_IDS: tuple[str, ...] = tuple(t.id for t in TACTICS)
TACTIC_BY_ID: dict[str, Tactic] = {t.id: t for t in TACTICS}

# Tactics whose first appearance marks the point of harm: an alert must fire at or before it.
HARM_TACTICS: frozenset[str] = frozenset({"sensitive_info", "transfer"})

SCAM_TYPES: dict[str, str] = {
    "ecommerce_refund": "冒充电商/快递客服退款理赔",
    "fake_police": "冒充公检法（安全账户）",
    "student_loan": "注销校园贷/修复征信",
    "financial_product_cancel": "注销金融产品（金条/百万保障）",
    "fake_loan": "虚假贷款（保证金/解冻费）",
    "order_brushing": "刷单返利",
    "fake_investment": "虚假投资理财",
    "romance": "网恋交友（杀猪盘）",
    "impersonate_acquaintance": "冒充亲友/领导",
    "prize_lottery": "中奖/抽奖",
    "second_hand": "二手交易",
    "medical_etc": "医保卡/ETC通知",
    "kidnapping": "绑架/亲人出事",
    "bank_phishing": "冒充银行",
    "identity_theft": "身份盗窃",
    "phishing": "钓鱼链接",
    "postal_parcel": "邮件/包裹诈骗",
    "credit_card_limit": "信用卡提额/分期/降息",
    "tax_refund": "个税退税/补贴申领",
    "flight_rebooking": "机票改签/航班取消",
    "ticket_scalping": "演唱会/车票代抢",
    "rental": "租房/中介押金",
    "recruitment": "招聘兼职/培训费",
    "military_procurement": "冒充军警采购",
    "game_trading": "虚假游戏交易（装备/账号/充值）",
    "crypto": "虚拟货币/USDT",
    "teacher_fee": "冒充老师收费（家长群）",
    "online_gambling": "网络赌博",
    "customs_smuggling": "海关缉私/跨境包裹",
    "sextortion": "裸聊敲诈",
    "deepfake_impersonation": "AI换脸/换声冒充",
    "fake_sms_points": "伪基站短信（积分兑换/账户异常）",
    "wechat_agent": "微商代理/加盟",
    "pension_social_security": "养老金/社保资格认证",
    "traffic_violation": "交通违章/车险退费",
    "fake_charity": "虚假慈善募捐",
    "refund_recovery": "追回损失（二次诈骗）",
    "health_products": "保健品/养老项目",
    "telecom_upgrade": "冒充运营商（话费/套餐/停机）",
    "fan_reward": "追星/粉丝福利",
    "insurance_refund": "冒充保险公司退保/理赔",
    "debt_collection": "虚假催收/债务处理",
    "utility_bill": "水电燃气欠费",
    "visa_study": "留学/签证代办",
    "pet_sale": "网购宠物（疫苗费/运输笼/保险费）",
    "antique_collection": "收藏品/古董鉴定拍卖",
    "money_mule": "出租出借银行卡/跑分",
    "credit_card_issuance": "代办大额信用卡/贷款包装费",
    "certificate_exam": "代考包过/代办证书",
    "digital_rmb": "冒充数字人民币/新型支付推广",
    "overseas_job": "高薪出境务工",
    "fake_shopping": "低价网购/直播间代购",
    "other": "其他",
}

RiskLevel = Literal["insufficient", "safe", "caution", "danger"]
RISK_LEVELS: tuple[str, ...] = get_args(RiskLevel)
RISK_LEVEL_ZH: dict[str, str] = {"insufficient": "信息不足", "safe": "安全", "caution": "注意", "danger": "危险"}
RISK_LEVEL_EN: dict[str, str] = {"insufficient": "not enough to judge yet", "safe": "safe", "caution": "caution",
                                 "danger": "danger"}


def unknown_tactics(ids) -> list[str]:
    """Return the ids that are not in the taxonomy, in input order."""
    return [t for t in ids if t not in TACTIC_BY_ID]

# Why each tactic is a warning sign, in the words the explanations use (Chinese first).
WHY_ZH: dict[str, str] = {
    "impersonation": "自称客服、银行、公检法或熟人等身份来取得信任，但真实身份无法从电话里确认。",
    "info_leverage": "报出您的姓名、订单或地址等个人信息来显得可信；这些信息可能早已泄露，不能证明对方身份。",
    "pretext": "编造一个需要您马上处理的问题（商品有害、包裹丢失、账户异常、贷款关系等）。",
    "lure": "用赔偿、退款、返利或中奖等好处吸引您配合操作。",
    "urgency": "制造时间压力，让您来不及思考和核实。",
    "threat": "用违约金、影响征信、冻结账户或法律后果等吓唬您。",
    "isolation": "让您保密、不要挂电话、身边不能有人或转到私人联系方式，切断您向家人和官方求证的机会。",
    "guided_operation": "一步步指挥您下载软件、进入会议、共享屏幕、点链接或扫码。",
    "fake_insurance": "以保证金、验资、解冻费、银行卡保险或信用担保等名义让您拿出钱。",
    "sensitive_info": "索要银行卡号、验证码、密码或身份证号等敏感信息。",
    "transfer": "要求您转账、付款、贷款或向亲友借钱。",
}
assert set(WHY_ZH) == set(TACTIC_IDS)

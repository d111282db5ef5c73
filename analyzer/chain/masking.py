"""Mask personal data before text leaves the machine, with stable placeholders restored in what the user sees.

What is masked, and the placeholder it gets (the same value always gets the same placeholder within one dialogue):

- e-mail addresses [EMAIL_n]; WeChat ids (wxid_…, 微信号/vx …), QQ numbers and Alipay accounts [ACCOUNT_n] (the
  words 微信/QQ/支付宝 stay: the LLM needs them);
- police badge and work numbers after 警号/工号/警官证号/编号 [BADGE_n] (the word 警号/工号 stays); license plates
  (粤B12345) [PLATE_n];
- addresses down to the 小区/栋/单元/室/号楼 (幸福小区3栋2单元501, 北京市朝阳区建国路88号) [ADDR_n];
- every run of 4 or more digits — Arabic or full-width, or Chinese numerals including the spoken 幺/两/洞, with or
  without spaces, dashes or zero-width characters between them — classified as [PHONE_n], [ID_n], [CARD_n],
  [CODE_n] (after 验证码/密码/…), [ORDER_n] (after 订单/运单/单号) or [NUM_n]. Kept: amounts, years and durations (5000元, 2024年), dates
  (2024-05-17) and public service numbers (96110, 95588, 12315);
- Chinese person names [NAME_n]: the dialogue's speaker names (the caller's own name too; not roles such as 客服,
  顾问, 张警官), and in the text a surname (single or compound: 欧阳, 司马, 诸葛 …) at the start of a jieba word,
  followed by one or two given-name characters and ending on a word boundary. jieba's dictionary and its `nr`
  tags (posseg's tag table) decide what is an ordinary word (高兴, 周一, 谢谢 — jieba tags some of these `nr`, so
  a frequent word needs a cue such as 我是/请问是 before it or a title such as 女士/同学 after it). The text is cut by
  the dictionary alone (posseg's HMM costs ~20 ms a sentence and splits nothing we need). jieba is optional and
  loaded lazily and quietly into a private tokenizer; without it the surname rule still applies.

Words the LLM needs to recognise a tactic (验证码, 转账, 安全账户, 银行卡, 共享屏幕, 保证金, 公安局, 客服, 支付宝,
借呗 …, see PROTECTED) are never part of a name or an address (深圳市南山区人民法院 keeps 法院).
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional

# ---------------------------------------------------------------------------------------------------------------
# words that must reach the LLM unchanged (tactic cues, institutions, products); names never overlap them
PROTECTED = (
    "验证码 校验码 动态码 密码 转账 汇款 打款 安全账户 银行卡 储蓄卡 信用卡 银行账户 银行流水 共享屏幕 屏幕共享 远程协助 "
    "保证金 解冻费 手续费 备用金 公安局 公安 派出所 检察院 法院 公检法 民警 警官 警察 警号 工号 客服 客服中心 专员 支付宝 "
    "微信 借呗 花呗 余额宝 微粒贷 京东金条 金条 京东白条 白条 网贷 校园贷 贷款 征信 征信报告 刷单 返利 冻结 解冻 洗钱 通缉令 "
    "传票 快递 理赔 退款 注销 链接 点击链接 二维码 投资 理财 收益 平台 充值 提现 保密 医保卡 社保卡 社保 身份证 手机号 "
    "短信 还款 逾期 额度 学籍 云闪付 腾讯会议 会议号 小程序 抖音 拼多多 淘宝 京东 美团 顺丰 中国移动 中国联通 中国电信 "
    "工商银行 建设银行 农业银行 中国银行 招商银行 交通银行 平安银行 邮政储蓄 国家反诈中心 反诈中心 反诈 百万保障 违禁品 "
    "东方航空 南方航空 国航 东航 南航 积分 中奖 领奖 点卡 游戏币 盗刷 停机 涉嫌 逮捕 拘留 资金核查 安全码 养老金 退休金 "
    "申通 圆通 中通 韵达 百世 极兔 德邦 邮政 定金 订金 押金 付款 付费 支付 孙子 孙女 外孙 老公 老婆 阿姨 叔叔 舅舅 姑姑 表哥 表姐 老师 老板 领导 同学 先生 女士 小姐"
).split()

COMPOUND_SURNAMES = ("欧阳 上官 司马 诸葛 皇甫 公孙 端木 夏侯 令狐 宇文 慕容 尉迟 长孙 独孤 司徒 轩辕 澹台 申屠 赫连 "
                     "呼延 钟离 濮阳 淳于 公冶 太叔 拓跋 完颜 万俟 闻人 东郭 东方 南宫 西门 百里 仲孙 左丘 谷梁 "
                     "乐正 壤驷 公良 漆雕 巫马 梁丘 第五 司空 亓官 司寇 子车 颛孙 端沐").split()
# 东方/南宫/西门/百里 are also ordinary words: a name with them needs a cue, a title or a jieba `nr` tag
AMBIGUOUS_COMPOUND = {"东方", "南宫", "西门", "百里", "第五", "司空", "乐正"}
SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔"
    "钟谭陆汪范金石廖贾夏韦付傅方邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤庞樊兰殷施"
    "陶洪翟安颜倪严牛温芦季俞章鲁葛伍申尤毕聂焦向柳邢骆岳齐沿梅莫庄辛管祝左涂谷祁时舒耿牟卜詹关苗凌费纪靳盛童"
    "欧甄项曲成游阳裴席卫查屈鲍位覃霍翁隋植甘景薄单包司柏宁柯阮桂闵解强柴华车冉房边辜吉饶刁瞿戚丛湛卓晏于蓝"
    "邬冷蒲麦容练娄迟郎喻封鞠桑康荣")
# characters that start a surname but, as the first character of a candidate, too often start an ordinary word
SURNAME_WORDLIKE = set("于时成安单解向华宁容强关付房康欧毛查麦")
# given-name characters that do not make a name on their own (付一, 张大): only as part of a two-character given name
WEAK_GIVEN = set("一大小少天子生长中正民家国可心本之乃予于士定好")
# characters of given names (a surname followed by these is a name candidate)
NAME_CHARS = set(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红娥玲芬燕彬晓文建国志海浩然雯婷婉清俊凯振淑春花梅"
    "东辉峰宇鹏飞云博雨桐远琪梦佳怡欣慧颖莉琳倩雪琴丹荣新福林斌鑫亮成龙欢宁波帅阳晨瑞轩涵子豪铭嘉睿哲思诗悦萱"
    "妍彤晴璐菲蕾薇露茜月楠航鸣坤泽旭天一凡帆昊炜煜毅峻骏瑶霖蓉珍珠凤翠香莲菊美爱莹洁虹宏伦松柏森山川江河湖洪"
    "学德仁义礼智信忠孝勤光耀富贵祥吉庆喜乐安康健寿永长生伯仲大小少正雄彪虎麟鹤鹰家邦民兴旺盛昌隆达通顺利保卫"
    "诚实秋冬夏晖曦晶莎蓓碧翔腾宾滨璇琦珊瑜琼瑾馨婕媛姗婧娇娅妮姿青艺尧舜禹汉奇逸灵巧聪捷立兵武威坚壮卓越群冠"
    "鼎锋钢铁淼焱磊贤良善惠好宝贝琅瑛琬皓晗暄烨炎灿烁朗骁锦绣锐铮泉溪潇澜渊沛源桃李杏芝芸莺鹃娴婵嫣婕倩茹蕊"
    "卿仪宜雅韵歆可心忆依亦奕弈易毓钰昱彦雁艳岚峥嵘崇岩巍彩霓霏霄震雷霆之乃予于士克守定宗宪宾寒尚展希帝庭康"
    "延廷弘强彬征德恒惠庆懿成承振敬文斐新旭昆昌明昭晋晟景智曼朝本权杭松林柔栋树桦梓楷榕槿橙欧正武毓民永江汐"
    "沁沐沛泓波洁津洲浩涛淑清渝湘溢潮澄灏炜烽焕熙燕爽玮珂珏琛琨瑞璋璟甜田男皓益真睿瞳石硕磊祖祯禄福秀程稳"
    "立童竹笑筠简素紫红纯绍维缘美羽翊翰耀聪育胜舒航良艾芊芙芮芯苑若英茂荷莎莱菁萌萧蓝蔚蕙薇虹衡言誉诗谦豫贞"
    "轩辰达迪逸遥邦重金鑫铭锐锦键长阔阳雄雅雯露青静韬颂颜风飞香馨驰骏高鸿鹏鹤黛鼎娟桂凤令炅"
    "靖钧骞珺颢昕晔煦炳赫奎琦霁翎玥悠慈勋梧楚栩樱柳苒蔓菡蕴蓁臻舟钦钰雍韩颐飒馥骅麒墨恺恬惟慕政昱曜杉柯桢沐泰洛浚涓"
    "漪澈瀚熠燊牧瑗璨皎盈祺禧穆筱绮缇羲芷苓茗荃菀葵蔚裕谨贻赟跃钊锴隽靓飚骥鸥彤莉琰珮瑭璞遥君")
# single characters after which a candidate name ends (function words, titles' first characters)
NAME_STOP = set("你您我他她它们的地得了着过吗呢吧啊呀哦嘛在是说和与跟给把被对从就也都还要会能请这那哪个不没有先女同老阿"
                "叔姨总经局处科队所行姐哥弟妹爸妈爷奶伯舅来去到让叫")
TITLES = ("先生", "女士", "小姐", "同学", "阿姨", "叔叔", "老师", "警官", "经理", "律师", "医生", "大爷", "大妈", "奶奶",
          "爷爷", "同志", "老板", "总经理", "专员", "主任", "科长", "处长", "队长", "所长", "局长", "师傅", "你好", "您好")
COMMON_FREQ = 300
NUMERAL_BEFORE = set("一二三四五六七八九十两几每这那哪半第0123456789")
ORG_AFTER = re.compile(r"银行|公司|集团|娱乐|财险|保险|证券|基金|科技|金融|平台|商城|超市|商场|店|医院|学校|大学|学院|中心|"
                       r"[局所部厅处院社]|旗舰|官方|品牌|牌|APP|App|app|小程序|大厦|广场|酒店|宾馆|饭店|大楼|小区|花园")
NOT_NAMES = {"高达", "冉冉", "安然", "丁香", "宋词", "程程", "金盛", "欧易", "麦香", "高远", "常常", "华夏", "房东", "房客",
             "毛利", "钱包", "金币", "金卡", "金价", "戴森", "麦克风", "管家", "查清楚"}
NAME_CUES = re.compile(r"(?:我是|我叫|我姓名是|名叫|叫做|请问是|您是|你是|是不是|找一下|转告|收件人|户名|姓名|联系人|"
                       r"本人|嫌疑人|当事人)[:：\s]*$")
GENERIC_SPEAKERS = {"客服", "用户", "来电", "接听", "本人", "对方", "坐席", "客户", "警官", "我", "甲", "乙", "未知",
                    "骗子", "受害人", "受害者", "嫌疑人", "警察", "民警", "银行", "主叫", "被叫", "来电者", "接听者", "机器人",
                    "系统", "助手", "说话人", "旁白", "其他", "unknown", "caller", "callee", "agent", "user", "customer",
                    "speaker", "system", "assistant", "victim", "scammer"}

# ---------------------------------------------------------------------------------------------------------------
# digits: Arabic and full-width, Chinese numerals (幺 = 1, 两 = 2, 洞 = 0 when read out), and what may separate them
ZH_DIGITS = {"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4",
             "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
DIG = "[0-9０-９零〇洞一幺二两三四五六七八九]"
SEP = r"[ \t\u00a0\u3000\-‐‑‒–—―－_·•\u200b-\u200d\u2060\ufeff]"
RUN = re.compile(rf"(?<![0-9０-９A-Za-z])(?:[+＋]?[8８][6６]{SEP}{{0,2}}(?=[1１]))?{DIG}(?:{SEP}{{0,3}}{DIG}){{3,}}"
                 rf"(?![0-9０-９A-Za-z])")
UNIT_AFTER = re.compile(r"\s?(?:元|块|万|千|百|亿|美元|美金|港币|日元|欧元|年|月|日|天|周|星期|小时|个?钟头|分钟|秒|点|个|次|"
                        r"笔|人|位|名|岁|斤|公斤|克|吨|米|公里|千米|平|平方|%|％|倍|多|余|左右|以上|以下|毫升|升|件|张|台|条)")
MONEY_BEFORE = re.compile(r"(?:[¥￥$＄]|人民币|RMB)\s?$", re.I)
# an amount: a short plain number after a money word (金额是1500、4500、9000; 付好了1280; 一张1800)
AMOUNT_BEFORE = re.compile(r"(?:金额|价格|原价|售价|单价|一共|共计|总共|合计|转账|转了|付了|付好了|付款|支付|工资|佣金|返佣|余额|"
                           r"欠款|押金|定金|罚款|费用|本金|充值|提现|剩下?|亏了|赚了|花了|报价|[¥￥$])[^0-9０-９\n]{0,3}$"
                           r"|(?:[0-9]{3,6}(?:元|块)?[、,，和到至~\-]\s?)$")
CODE_BEFORE = re.compile(r"(?:验证码|校验码|动态码|短信码|安全码|密码|取件码|提取码|激活码|口令|代码|(?<![号页])码|code|CVV)"
                         r"[^\d\n]{0,6}$", re.I)
CARD_BEFORE = re.compile(r"(?:尾号|卡号|账号|帐号)[^\d\n]{0,4}$")
ORDER_BEFORE = re.compile(r"(?:订单|运单|快递单|单号|登记号|案号|编号|流水号|工单)[^\d\n]{0,6}$")
IDLIKE_BEFORE = re.compile(r"身份证[^\d\n]{0,6}$")
DATE = re.compile(r"^(?:19|20)\d{2}[-/.年](?:0?[1-9]|1[0-2])[-/.月](?:0?[1-9]|[12]\d|3[01])日?$")
SERVICE_NUMBER = re.compile(r"^(?:95\d{3}|96\d{3}|12\d{3}|100\d{2}|114|110|120|119|122)$")
IDIOMS = ("三三两两", "七七八八", "一一二二", "一二三四五六七八九十")

EMAIL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+\-]*\s?[@＠]\s?[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
ACCOUNT_VALUE = rf"(?P<v>[A-Za-z][A-Za-z0-9_\-.]{{3,39}}|[0-9０-９](?:{SEP}{{0,2}}[0-9０-９]){{4,11}}(?![0-9]))"
ACCOUNT = re.compile(
    r"(?P<v0>wxid_[A-Za-z0-9_\-]{4,})"
    r"|(?<![A-Za-z])(?:微信号?|微信账号|微信ID|[vV][xX]|[wW][xX]|[vV]信|威信|薇信|加[vV]|加微|QQ号?|[qQ]{2}号?|扣扣号?|企鹅号?|"
    r"支付宝(?:账号|帐号|账户|号)?|[aA]lipay)(?:号|账号|帐号|[iI][dD])?(?:是|为|[:：\s])*" + ACCOUNT_VALUE)
BADGE = re.compile(rf"(?:警号|警员编号|警官证号|警官证编号|警官证|工号|员工号|工作证号|执法证号|证件编号|编号)(?:是|为|[:：\s])*"
                   rf"(?:[\u4e00-\u9fa5]{{1,3}}(?=[0-9０-９A-Za-z]))?"
                   rf"(?P<v>[A-Za-z]{{0,4}}[-－]?{DIG}(?:{SEP}{{0,2}}{DIG})+)")
PLATE = re.compile(r"(?<![A-Za-z0-9])[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Za-hj-np-z]"
                   r"[\s·•\-－.]?[A-HJ-NP-Za-hj-np-z0-9]{5,6}(?![A-Za-z0-9])")
ID_X = re.compile(rf"(?<![0-9A-Za-z])(?:[0-9０-９]{SEP}{{0,2}}){{17}}[Xx](?![A-Za-z0-9])")

# addresses: a run of named parts (…省 …市 …区 …路 …小区) and numbered parts (3栋 2单元 501)
_P = r"(?:(?![我你您他她它们的地得在住是到把给从往去来叫说这那哪个就也还要会能请了着过吗呢吧啊呀被让对将寄送位于靠近隔看找搬租买卖址或])[\u4e00-\u9fa5])"
ADMIN = "省|自治区|特别行政区|自治州|市|区|县|旗|镇|乡|街道|村"
ROAD = "大街|大道|路|街|巷|弄|胡同"
ESTATE_STRONG = "小区|花园|家园|新村|山庄|华庭|华府|嘉园|公馆|苑"
ESTATE_WEAK = "公寓|大厦|社区|城|园|庭|府|湾|郡|里"
_NUM = r"(?:[0-9０-９]{1,5}|[一二三四五六七八九十百零〇两]{1,4}|[A-Za-z])"
NUM_UNIT = "号楼|号院|号|栋|幢|座|单元|层|楼|室|户|段|期|组|排|区|弄|巷"
_SUFFIX = f"(?:{ESTATE_STRONG}|{ADMIN}|{ROAD}|{ESTATE_WEAK})(?!{ROAD}|{ADMIN}|{ESTATE_STRONG}|{ESTATE_WEAK})"
_BUILDING_NUM = rf"{_NUM}(?:号楼|栋|幢|座|单元)"
ADDR = re.compile(
    rf"(?:(?:{_P}{{1,8}}?{_SUFFIX})|(?:{_P}{{2,8}}?(?={_BUILDING_NUM}))|(?:{_NUM}(?:{NUM_UNIT})))+"
    rf"(?:[-－]?(?:[0-9０-９]{{2,5}}|[零〇一二三四五六七八九两幺洞]{{2,5}})(?:室|房|号)?(?![0-9０-９]))?")
_ADDR_PART = re.compile(
    rf"(?P<named>{_P}{{1,8}}?(?P<suffix>{_SUFFIX}))|(?P<free>{_P}{{2,8}}?(?={_BUILDING_NUM}))"
    rf"|(?P<num>{_NUM}(?:{NUM_UNIT}))")
VAGUE_PLACE = re.compile(r"今天|明天|昨天|后天|上午|下午|晚上|早上|中午|[点时]|附近|周边|对面|旁边|整个|所有|其他|别的|一个|哪个|"
                         r"隔壁|本|该|某")
BUILDING = re.compile(r"栋|幢|号楼|座|单元|室|楼|户")


def _digits(raw: str) -> str:
    return "".join(ZH_DIGITS.get(ch, ch) for ch in raw if ch.isdigit() or ch in ZH_DIGITS).translate(
        str.maketrans("０１２３４５６７８９", "0123456789"))


def _plausible_id(d: str) -> bool:
    return len(d) == 18 and d[6:8] in ("19", "20") and "01" <= d[10:12] <= "12" and "01" <= d[12:14] <= "31"


def _accept_address(match: str) -> bool:
    """A match is an address when it is specific: a numbered part after a named one, a named estate, or 3+ parts."""
    parts, pos = [], 0
    while pos < len(match):
        m = _ADDR_PART.match(match, pos)
        if not m:
            break
        if m.group("free"):
            parts.append(("strong", len(m.group("free")), m.group("free")))  # 恒大名都|11栋: a name before a building
        elif m.group("named"):
            suffix = m.group("suffix")
            prefix_len = len(m.group("named")) - len(suffix)
            kind = ("strong" if re.fullmatch(ESTATE_STRONG, suffix) else "weak" if re.fullmatch(ESTATE_WEAK, suffix)
                    else "road" if re.fullmatch(ROAD, suffix) else "admin")
            parts.append((kind, prefix_len, m.group(0)))
        else:
            parts.append(("num", 0, m.group(0)))
        pos = m.end()
    named = [p for p in parts if p[0] != "num"]
    nums = [p for p in parts if p[0] == "num"]
    if any(VAGUE_PLACE.search(p[2][:p[1]]) for p in named if p[0] in ("strong", "weak")):
        return bool(nums) and parts[0][0] != "num" and len(named) >= 2
    if any(k == "strong" and n >= 2 for k, n, _ in named):
        return True
    if named and nums and parts[0][0] != "num":
        # a weak estate word (…城, …园) needs a building number, a road needs a house number
        return any(BUILDING.search(p[2]) or re.search("[号组弄巷]$", p[2]) for p in nums) or len(named) >= 2
    if len(nums) >= 2 and any(BUILDING.search(p[2]) for p in nums):
        return True
    return len(named) >= 3 and any(k in ("road", "strong", "weak") for k, _, _ in named)


# ---------------------------------------------------------------------------------------------------------------
# jieba, loaded once, lazily and quietly, into a private tokenizer (the global one is left as it is)
_JIEBA_LOCK = threading.Lock()
_JIEBA: dict = {}


def _pos_tokenizer():
    """jieba's POS tokenizer with the protected words added, or None when jieba is not installed."""
    if "pos" in _JIEBA:
        return _JIEBA["pos"]
    with _JIEBA_LOCK:
        if "pos" in _JIEBA:
            return _JIEBA["pos"]
        try:
            import jieba
            import jieba.posseg
        except ImportError:
            _JIEBA["pos"] = None
            return None
        logger = jieba.default_logger
        level = logger.level
        logger.setLevel(logging.WARNING)
        try:
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            pos = jieba.posseg.POSTokenizer(tokenizer)
            for word in PROTECTED:
                pos.add_word(word, tag="nz")
        finally:
            logger.setLevel(level)
        _JIEBA["pos"] = pos
        return pos


def _tokens(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, word, tag) for each jieba token, cut by the dictionary alone (no HMM: an unknown name stays in
    single characters, and posseg's HMM costs ~20 ms a sentence); one token per character when jieba is missing."""
    pos = _pos_tokenizer()
    if pos is None:
        return [(i, i + 1, ch, "x") for i, ch in enumerate(text)]
    out, at = [], 0
    for word in pos.tokenizer.cut(text, HMM=False):
        out.append((at, at + len(word), word, pos.word_tag_tab.get(word, "x")))
        at += len(word)
    return out


def _dictionary_tag(word: str) -> Optional[str]:
    """jieba's tag for a dictionary word ("" when in the dictionary without a tag), None when not a word."""
    pos = _pos_tokenizer()
    if pos is None:
        return None
    if pos.tokenizer.FREQ.get(word, 0) > 0:
        return pos.word_tag_tab.get(word, "")
    return None


def _surname_at(text: str, i: int) -> int:
    """Length of the surname starting at text[i] (2 for 欧阳, 1 for 王), 0 when none."""
    if text[i:i + 2] in COMPOUND_SURNAMES:
        return 2
    return 1 if text[i] in SURNAMES else 0


_PROTECTED_RE = re.compile("|".join(sorted(map(re.escape, PROTECTED), key=len, reverse=True)))


def _protected_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _PROTECTED_RE.finditer(text)]


def _freq(word: str) -> int:
    pos = _pos_tokenizer()
    return (pos.tokenizer.FREQ.get(word) or 0) if pos is not None else 0


def _wordlike(word: str) -> bool:
    """An ordinary word: in jieba's dictionary with a tag other than nr, or frequent (jieba tags 谢谢, 顾问, 周转 nr)."""
    freq = _freq(word)
    if freq <= 0:
        return False
    tag = _dictionary_tag(word) or ""
    return not tag.startswith("nr") or freq >= COMMON_FREQ


@lru_cache(maxsize=4096)
def find_names(text: str) -> frozenset[str]:
    """Chinese person names in `text`: a surname at the start of a jieba token, then one or two given-name
    characters ending on a token boundary, that is not an ordinary word (unless a cue or a title says it is a name)."""
    if not re.search(r"[\u4e00-\u9fa5]", text):
        return frozenset()
    tokens = _tokens(text)
    ends = {e for _, e, _, _ in tokens}
    protected = _protected_spans(text)
    names = set()
    for start, _, _, tag in tokens:
        sn = _surname_at(text, start)
        if not sn:
            continue
        surname = text[start:start + sn]
        cue = NAME_CUES.search(text[max(0, start - 8):start]) is not None
        if start and text[start - 1] in NUMERAL_BEFORE and not cue:
            continue  # 一张|刚好, 两周, 三万: a measure word, not a surname
        for glen in (2, 1):
            end = start + sn + glen
            given = text[start + sn:end]
            if len(given) < glen or not all(ch in NAME_CHARS and ch not in NAME_STOP for ch in given):
                continue
            if glen == 1 and given in WEAK_GIVEN:
                continue
            if end not in ends and end < len(text):
                continue  # the last character starts or sits inside a longer word (孙丽|刚才)
            word = text[start:end]
            if word in PROTECTED or word in NOT_NAMES or any(s < end and start < e for s, e in protected):
                continue
            if ORG_AFTER.match(text, end):
                continue  # 宁波|银行, 金冠|娱乐, 阳光|财险: a place or a brand before an organisation
            dtag = _dictionary_tag(word) or ""
            if _freq(word) > 0 and not dtag.startswith("nr"):
                continue  # an ordinary word or a place (宁波, 高兴, 周一), whatever the cues say
            if not (cue or _title_after(text, end)):  # without a cue before or a title after, be stricter
                if _wordlike(word):
                    continue  # 高兴, 周一, 谢谢
                if glen == 2 and _freq(text[start:start + sn + 1]) >= COMMON_FREQ:
                    continue  # 阳光|惠: the surname and the next character are a common word
                if sn == 2 and surname in AMBIGUOUS_COMPOUND and not tag.startswith("nr"):
                    continue
                if sn == 1 and surname in SURNAME_WORDLIKE and (glen == 1 or _freq(text[start:start + 2]) > 0):
                    continue  # 付|一, 康乐|源; but 毛晓彤
            names.add(word)
            break
    return frozenset(names)


def _title_after(text: str, end: int) -> bool:
    rest = text[end:end + 3]
    return any(rest.startswith(t) for t in TITLES)


def speaker_names(speaker: str) -> list[str]:
    """The person names in a speaker label: 王秀英, 欧阳娜娜, Lily, a nickname (小雅, 阿杰, 老张, 群主小雅 -> 小雅);
    none in a role (客服, 顾问, 营业员, 张警官)."""
    s = speaker.strip()
    if not s or s.lower() in GENERIC_SPEAKERS or re.fullmatch(r"[A-Za-z]|[A-Za-z]?\d+|[甲乙丙丁][方]?", s):
        return []
    if re.fullmatch(r"[A-Z][a-z]+(?: [A-Z][a-z]+){0,2}", s):
        return [s]  # Eric, Lily Wang (not left/right, HR)
    found = set(find_names(s))
    sn = _surname_at(s, 0) if s else 0
    if sn and 2 <= len(s) <= 4 and len(s) > sn and all(ch in NAME_CHARS for ch in s[sn:]) and s not in PROTECTED \
            and s not in NOT_NAMES and (_freq(s) <= 0 or (_dictionary_tag(s) or "").startswith("nr")):
        found = {s}  # the whole label is a name (郭靖), whatever the dictionary says
    nick = re.search(r"(?:小|阿)([\u4e00-\u9fa5])$|老([\u4e00-\u9fa5])$", s)
    if nick and (nick.group(1) or nick.group(2)) in (NAME_CHARS | SURNAMES if nick.group(1) else SURNAMES):
        if nick.group(0) not in PROTECTED and nick.group(1) not in NAME_STOP:
            found.add(nick.group(0))
    return sorted(found)


@dataclass
class Masker:
    names: set[str] = field(default_factory=set)
    forward: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    detect_names: bool = True

    def _placeholder(self, kind: str, value: str) -> str:
        if value not in self.forward:
            self.counters[kind] = self.counters.get(kind, 0) + 1
            self.forward[value] = f"[{kind}_{self.counters[kind]}]"
        return self.forward[value]

    def _add_name(self, name: str) -> None:
        name = name.strip()
        if len(name) >= 2 and name not in PROTECTED and name.lower() not in GENERIC_SPEAKERS:
            self.names.add(name)

    def learn_names(self, speakers: list[str], texts: list[str]) -> None:
        """Names from the speaker labels (the caller's own name too) and from the texts."""
        for speaker in speakers:
            for name in speaker_names(speaker):
                self._add_name(name)
        if self.detect_names:
            for text in texts:
                for found in find_names(self._strip(text)):
                    self._add_name(found)

    # -- the patterns, in order: the most specific first; each sees the text with earlier matches masked --------
    def _sub_value(self, pattern: re.Pattern, kind: str, text: str, group: str = "v") -> str:
        def repl(m):
            for g in (group, group + "0"):
                if g in pattern.groupindex and m.group(g):
                    s, e = m.span(g)
                    return m.group(0)[:s - m.start()] + self._placeholder(kind, m.group(g)) + m.group(0)[e - m.start():]
            return self._placeholder(kind, m.group(0))
        return pattern.sub(repl, text)

    def _classify_run(self, text: str, m: re.Match) -> Optional[str]:
        raw = m.group(0)
        digits = _digits(raw)
        before, after = text[:m.start()], text[m.end():]
        plain = not re.search(SEP, raw)
        if CODE_BEFORE.search(before[-12:]) and len(digits) <= 8:
            return "CODE"
        if raw in IDIOMS or any(raw in idiom for idiom in IDIOMS):
            return None
        if plain and (UNIT_AFTER.match(after) or MONEY_BEFORE.search(before[-6:])
                      or len(digits) <= 6 and AMOUNT_BEFORE.search(before[-10:])):
            return None
        if DATE.match(raw.replace(" ", "")) or SERVICE_NUMBER.match(digits) and plain:
            return None
        if ORDER_BEFORE.search(before[-10:]):
            return "ORDER"
        if CARD_BEFORE.search(before[-8:]) and len(digits) <= 6:
            return "CARD"
        if digits.startswith("86") and len(digits) == 13 and digits[2] == "1":
            digits = digits[2:]
        if len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789":
            return "PHONE"
        if digits[0] == "0" and 10 <= len(digits) <= 12 or len(digits) == 10 and digits[:3] in ("400", "800"):
            return "PHONE"
        if len(digits) == 18 and (_plausible_id(digits) or IDLIKE_BEFORE.search(before[-10:])):
            return "ID"
        if 15 <= len(digits) <= 19:
            return "CARD"
        return "NUM"

    def _mask_runs(self, text: str) -> str:
        out, last = [], 0
        for m in RUN.finditer(text):
            kind = self._classify_run(text, m)
            if kind is None:
                continue
            out.append(text[last:m.start()])
            out.append(self._placeholder(kind, m.group(0)))
            last = m.end()
        out.append(text[last:])
        return "".join(out)

    def _mask_addresses(self, text: str) -> str:
        protected = _protected_spans(text)

        def repl(m):
            value = m.group(0)
            # an address never swallows a word the LLM needs (深圳市南山区人民|法院, 养|老公|寓): cut before it
            cut = min((s - m.start() for s, e in protected if s < m.end() and m.start() < e), default=None)
            if cut is not None:
                value = value[:max(cut, 0)]
            if value and _accept_address(value):
                return self._placeholder("ADDR", value) + m.group(0)[len(value):]
            return m.group(0)
        return ADDR.sub(repl, text)

    def _mask_patterns(self, text: str) -> str:
        text = self._sub_value(EMAIL, "EMAIL", text)
        text = self._sub_value(ACCOUNT, "ACCOUNT", text)
        text = self._sub_value(BADGE, "BADGE", text)
        text = self._sub_value(PLATE, "PLATE", text)
        text = self._sub_value(ID_X, "ID", text)
        text = self._mask_addresses(text)
        return self._mask_runs(text)

    def _strip(self, text: str) -> str:
        """The text with pattern matches blanked (for name finding), without assigning placeholders."""
        probe = Masker(detect_names=False)
        return re.sub(r"\[[A-Z]+_\d+\]", "，", probe._mask_patterns(text))

    def mask(self, text: str) -> str:
        text = self._mask_patterns(text)
        if self.detect_names:
            for name in find_names(re.sub(r"\[[A-Z]+_\d+\]", "，", text)):
                self._add_name(name)
        for name in sorted(self.names, key=len, reverse=True):
            if name in text:
                text = text.replace(name, self._placeholder("NAME", name))
        return text

    def unmask(self, text: str) -> str:
        for value, placeholder in sorted(self.forward.items(), key=lambda kv: -len(kv[1])):
            text = text.replace(placeholder, value)
        return text

    @property
    def secrets(self) -> list[str]:
        return list(self.forward)

"""CDISC controlled terminology Hearth's values map to: contact modes, visit occurrence,
disposition, units of vital signs, countries (ISO 3166-1 alpha-3)."""

from __future__ import annotations

from domain.design import ContactMode
from domain.participants import ParticipantStatus
from domain.visits import VisitOutcome

CONTACT_MODE = {
    ContactMode.SITE: "IN PERSON",
    ContactMode.HOME_NURSE: "IN PERSON",
    ContactMode.PHONE: "TELEPHONE CALL",
    ContactMode.VIDEO: "REMOTE AUDIO VIDEO",
}
NOT_OCCURRED = {
    VisitOutcome.NOT_DONE: "NOT DONE",
    VisitOutcome.PARTICIPANT_UNREACHABLE: "PARTICIPANT UNREACHABLE",
}
ENDED = frozenset({ParticipantStatus.COMPLETED, ParticipantStatus.WITHDRAWN})
# Disposition (DS): the reported term and the standardized term (NCOMPLT / protocol
# milestones). Hearth records no withdrawal category: a withdrawal is the subject's.
CONSENTED = ("INFORMED CONSENT OBTAINED", "INFORMED CONSENT OBTAINED", "PROTOCOL MILESTONE")
DISPOSITION = {
    ParticipantStatus.COMPLETED: ("COMPLETED", "COMPLETED", "DISPOSITION EVENT"),
    ParticipantStatus.WITHDRAWN: (
        "WITHDRAWN FROM STUDY",
        "WITHDRAWAL BY SUBJECT",
        "DISPOSITION EVENT",
    ),
}
SEX_UNKNOWN = "U"  # Hearth does not collect sex; SEX is required, U is the CDISC term
AGE_UNIT = "YEARS"

# UCUM (as stored and as devices send) -> CDISC UNIT terms used in VS. A count of steps has
# no unit term: it stays unitless. Units without a mapping are kept as sent.
VS_UNITS = {
    "/min": "beats/min",
    "{beats}/min": "beats/min",
    "beats/min": "beats/min",
    "mm[Hg]": "mmHg",
    "mmHg": "mmHg",
    "kPa": "kPa",
    "{steps}": "",
    "steps": "",
    "1": "",
    "kg": "kg",
    "g": "g",
    "[lb_av]": "LB",
    "lb": "LB",
    "mmol/L": "mmol/L",
    "mg/dL": "mg/dL",
    "%": "%",
    "Cel": "C",
    "C": "C",
    "[degF]": "F",
    "F": "F",
    "K": "K",
}


def vs_unit(ucum: str) -> str:
    return VS_UNITS.get(ucum, ucum)


# ISO 3166-1 alpha-2 -> alpha-3, packed as "AAAAA" groups (all 249 officially assigned codes).
ALPHA3_TABLE = (
    "ADAND AEARE AFAFG AGATG AIAIA ALALB AMARM AOAGO AQATA ARARG ASASM ATAUT AUAUS AWABW "
    "AXALA AZAZE BABIH BBBRB BDBGD BEBEL BFBFA BGBGR BHBHR BIBDI BJBEN BLBLM BMBMU BNBRN "
    "BOBOL BQBES BRBRA BSBHS BTBTN BVBVT BWBWA BYBLR BZBLZ CACAN CCCCK CDCOD CFCAF CGCOG "
    "CHCHE CICIV CKCOK CLCHL CMCMR CNCHN COCOL CRCRI CUCUB CVCPV CWCUW CXCXR CYCYP CZCZE "
    "DEDEU DJDJI DKDNK DMDMA DODOM DZDZA ECECU EEEST EGEGY EHESH ERERI ESESP ETETH FIFIN "
    "FJFJI FKFLK FMFSM FOFRO FRFRA GAGAB GBGBR GDGRD GEGEO GFGUF GGGGY GHGHA GIGIB GLGRL "
    "GMGMB GNGIN GPGLP GQGNQ GRGRC GSSGS GTGTM GUGUM GWGNB GYGUY HKHKG HMHMD HNHND HRHRV "
    "HTHTI HUHUN IDIDN IEIRL ILISR IMIMN ININD IOIOT IQIRQ IRIRN ISISL ITITA JEJEY JMJAM "
    "JOJOR JPJPN KEKEN KGKGZ KHKHM KIKIR KMCOM KNKNA KPPRK KRKOR KWKWT KYCYM KZKAZ LALAO "
    "LBLBN LCLCA LILIE LKLKA LRLBR LSLSO LTLTU LULUX LVLVA LYLBY MAMAR MCMCO MDMDA MEMNE "
    "MFMAF MGMDG MHMHL MKMKD MLMLI MMMMR MNMNG MOMAC MPMNP MQMTQ MRMRT MSMSR MTMLT MUMUS "
    "MVMDV MWMWI MXMEX MYMYS MZMOZ NANAM NCNCL NENER NFNFK NGNGA NINIC NLNLD NONOR NPNPL "
    "NRNRU NUNIU NZNZL OMOMN PAPAN PEPER PFPYF PGPNG PHPHL PKPAK PLPOL PMSPM PNPCN PRPRI "
    "PSPSE PTPRT PWPLW PYPRY QAQAT REREU ROROU RSSRB RURUS RWRWA SASAU SBSLB SCSYC SDSDN "
    "SESWE SGSGP SHSHN SISVN SJSJM SKSVK SLSLE SMSMR SNSEN SOSOM SRSUR SSSSD STSTP SVSLV "
    "SXSXM SYSYR SZSWZ TCTCA TDTCD TFATF TGTGO THTHA TJTJK TKTKL TLTLS TMTKM TNTUN TOTON "
    "TRTUR TTTTO TVTUV TWTWN TZTZA UAUKR UGUGA UMUMI USUSA UYURY UZUZB VAVAT VCVCT VEVEN "
    "VGVGB VIVIR VNVNM VUVUT WFWLF WSWSM YEYEM YTMYT ZAZAF ZMZMB ZWZWE"
)
ALPHA3 = {group[:2]: group[2:] for group in ALPHA3_TABLE.split()}

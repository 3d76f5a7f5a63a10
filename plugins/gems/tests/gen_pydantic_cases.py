"""Regenerates pydantic_cases.json: the original request models (schemas.py /
model.py field types) validated by pydantic v2 with FastAPI's from_attributes.
Run: python3 gen_pydantic_cases.py > pydantic_cases.json"""
import json, random
from enum import IntEnum
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

class GemTier(IntEnum): RADIANT=1; STELLAR=2; CRYSTAL=3; MYSTIC=4
class GemType(IntEnum): LESSER=1; EMPOWERED=2
class GemElement(IntEnum): WATER=1; FIRE=2; AIR=3; COSMIC=4
class GemRestriction(IntEnum): FIERCE=1; ARCANE=2
class GemStatType(IntEnum):
    A=1;B=2;C=3;D=4;E=5;F=6;G=7;H=8;I=9
class AugmentType(IntEnum): R=1; P=2; S=3
class GemAbility(IntEnum):
    a1=1;a2=2;a3=3;a4=4;a5=5;a6=6;a7=7;a8=8;a9=9;a10=10;a11=11;a12=12

class Augment(BaseModel):
    type: AugmentType
    count: int = 0
class StatContainer(BaseModel):
    base: float = Field(default_factory=random.random)
    augments: list[Augment] = Field(default_factory=lambda: [Augment(type=t) for t in AugmentType])
class Stat(BaseModel):
    type: GemStatType
    containers: list[StatContainer] = Field(default_factory=list)
    locked: bool = False
class Gem(BaseModel):
    id: int = 0
    tier: GemTier
    type: GemType
    element: GemElement
    restriction: GemRestriction | None = None
    ability: GemAbility | None = None
    level: int
    stats: list[Stat]
    augmentation: float | None = None
    attempts: int = 0
    karma: int = 0
    spent: dict[str, int] = Field(default_factory=dict)

class GenerateGemRequest(BaseModel):
    tier: int | None = None
    type: int | None = None
    element: int | None = None
    restriction: int | None = None
    level: int = 1
    augmentation: float | None = None
class AugmentRequest(BaseModel):
    gem: Gem
    stat_position: int = Field(ge=0)
    augment_type: int = 1
class StatPositionRequest(BaseModel):
    gem: Gem
    stat_position: int = Field(ge=0)
class LevelUpRequest(BaseModel):
    gem: Gem
    booster: str | None = None
class SetLevelRequest(BaseModel):
    gem: Gem
    level: int = Field(ge=1)
class EvalStatInput(BaseModel):
    type: int
    value: float
    extra_containers: int = 0
class EvaluateRequest(BaseModel):
    tier: int = 4
    type: int = 1
    level: int = 1
    stats: list[EvalStatInput]
    auto_guess_procs: bool = False
class SimpleEvaluateRequest(BaseModel):
    tier: int = 4
    type: int = 1
    power_rank: int = 0
    level: int = 1
class BuildConfigRequest(BaseModel):
    build_type: str = "Light"
    character: str = "Bard"
    subclass: str = "Boomeranger"
    food: str = ""
    ally: str = "boot_clown"
    ally_buff: bool = True
    berserker_battler: bool = False
    critical_damage_count: int = Field(default=3, ge=0, le=3)
    no_face: bool = False
    light: int = 0
    subclass_active: bool = False
    litany: bool = False
    bounty_hunt: bool = False
    star_chart: str | None = None
    high_precision: bool = False
class HealthOptimizerRequest(BaseModel):
    character: str = "Bard"
    star_chart: str | None = None
    weapon_ch: bool = False
    ring_ch: bool = False
    hat_health: bool = False
    face_health: bool = False
    high_precision: bool = False

MODELS = {"/generate": GenerateGemRequest, "/augment": AugmentRequest, "/spark": StatPositionRequest,
          "/flare": StatPositionRequest, "/level-up": LevelUpRequest, "/set-level": SetLevelRequest,
          "/evaluate": EvaluateRequest, "/evaluate-simple": SimpleEvaluateRequest,
          "/builds/calculate": BuildConfigRequest, "/builds/health-optimizer": HealthOptimizerRequest}

def errors(path, body):
    try:
        TypeAdapter(MODELS[path]).validate_python(body, from_attributes=True)
        return None
    except ValidationError as e:
        out=[]
        for x in e.errors(include_url=False):
            x=dict(x); x['loc']=['body', *x['loc']]
            if 'ctx' in x: x['ctx']={k:(v if isinstance(v,(int,float,str)) else str(v)) for k,v in x['ctx'].items()}
            out.append(x)
        return out

import copy
G={"id":1,"tier":4,"type":1,"element":1,"restriction":1,"ability":None,"level":1,
   "stats":[{"type":1,"containers":[{"base":0.5,"augments":[{"type":1,"count":0}]}],"locked":False},
            {"type":3,"containers":[{"base":0.4}]},{"type":4}],
   "augmentation":None,"attempts":0,"karma":0,"spent":{}}
def g(**kw):
    x=copy.deepcopy(G); x.update(kw); return x
cases=[]
def add(path, body): cases.append((path, body))
bad_gems=[g(tier=7), g(tier="x", type=None, element=5.5), g(restriction=3, ability=13), g(level="abc"),
   g(level=1.5), g(stats="x"), g(stats=[1, None, {"type":10}]), g(stats=[{"containers":"x"}]),
   g(stats=[{"type":1,"containers":[{"base":"q","augments":[{"type":4,"count":"z"}, {}]}], "locked":"maybe"}]),
   g(augmentation="x", attempts=None, karma=[], spent={"a":"b","c":1.5}), g(spent=[]),
   {k:v for k,v in G.items() if k not in ("tier","level","stats")}, "gem", None, [], g(ability="9", restriction="2", tier="4", level="3")]
for bg in bad_gems:
    add("/augment", {"gem": bg, "stat_position": 0})
add("/augment", {"gem": G})
add("/augment", {"gem": G, "stat_position": "x", "augment_type": 1.5})
add("/augment", {"gem": G, "stat_position": -2.0})
add("/augment", {"stat_position": 0})
add("/augment", {})
add("/spark", {"gem": G, "stat_position": None})
add("/flare", {"gem": G, "stat_position": True})
add("/level-up", {"gem": G, "booster": 5})
add("/level-up", {"gem": G, "booster": None})
add("/set-level", {"gem": G})
add("/set-level", {"gem": G, "level": 0.0})
add("/set-level", {"gem": G, "level": "-3"})
add("/generate", {"tier": "x", "type": 1.5, "element": [], "restriction": {}, "level": None, "augmentation": "y"})
add("/generate", {"level": "1_000", "augmentation": "1e-1"})
add("/evaluate", {"stats": "x"})
add("/evaluate", {"tier": None, "stats": [{"type": "a"}, {"value": "b"}, 3, {"type": 1, "value": 1, "extra_containers": 0.5}], "auto_guess_procs": "maybe"})
add("/evaluate-simple", {"tier": 1.5, "type": "q", "power_rank": None, "level": []})
add("/builds/calculate", {"build_type": 1, "character": None, "critical_damage_count": -1, "light": 1.5, "ally_buff": "x", "star_chart": 5})
add("/builds/calculate", {"critical_damage_count": "7", "high_precision": 2})
add("/builds/health-optimizer", {"character": 3, "weapon_ch": "nah", "star_chart": []})
add("/builds/health-optimizer", [])
add("/generate", "str")
out=[]
for p,b in cases:
    out.append({"path": p, "body": b, "errors": errors(p, b)})
print(json.dumps(out))

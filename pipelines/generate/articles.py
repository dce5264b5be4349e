"""The built-in article templates: about 400 realistic articles in 15 categories, with units,
standard costs in euro per stock unit, and the weight of each category per sector.

Data, not logic: catalogue.py draws each tenant's slice of it.
"""
from __future__ import annotations

from dataclasses import dataclass

# Stock units whose quantities are whole numbers; the others take decimals.
INTEGER_UNITS = {"pcs", "box", "roll", "set", "pack"}


@dataclass(frozen=True)
class Template:
    category: str
    kind: str
    unit: str
    name: str
    variants: tuple = ("",)
    cost: tuple = (1.0, 1.0)   # euro per unit for the first and the last variant
    qty: float = 1.0           # typical quantity per issue, in units
    bulky: bool = False        # not carried in vans


def T(category, kind, unit, name, variants=("",), cost=(1.0, None), qty=1.0, bulky=False):
    lo, hi = cost if isinstance(cost, tuple) else (cost, cost)
    return Template(category, kind, unit, name, tuple(variants), (lo, lo if hi is None else hi), qty, bulky)


C, M, TL = "consumable", "material", "tool"

CATEGORY_PREFIX = {
    "fasteners": "FAS", "electrical": "ELE", "cable & wire": "CAB", "plumbing": "PLU",
    "sealants & adhesives": "SEA", "safety & PPE": "PPE", "power tools": "PWT", "hand tools": "HND",
    "measuring": "MEA", "paint": "PNT", "building materials": "BLD", "marine": "MAR",
    "abrasives & drilling": "ABR", "cleaning": "CLN", "road & signage": "SGN",
}

TEMPLATES: list[Template] = [
    # fasteners
    T("fasteners", C, "box", "Wall plug {} mm (box 100)", ["5x25", "6x30", "8x40", "10x50", "12x60"], (3.9, 14.5)),
    T("fasteners", C, "box", "Wood screw Torx {} mm (box 200)", ["3.5x30", "4x40", "4x50", "5x60", "5x80", "6x100"], (6.5, 24.0)),
    T("fasteners", C, "box", "Hex bolt M{} zinc plated (box 50)", ["6x40", "8x50", "10x60", "12x80"], (7.0, 32.0)),
    T("fasteners", C, "box", "Hex nut M{} zinc plated (box 100)", ["6", "8", "10", "12"], (3.2, 9.8)),
    T("fasteners", C, "box", "Washer M{} DIN 125 (box 100)", ["6", "8", "10", "12"], (2.1, 6.4)),
    T("fasteners", C, "box", "Concrete anchor M{} (box 50)", ["8x75", "10x90", "12x110"], (18.0, 46.0)),
    T("fasteners", C, "box", "Stainless screw A4 {} mm (box 100)", ["4x30", "5x50", "6x60"], (12.0, 29.0)),
    T("fasteners", C, "pack", "Cable tie {} mm black (pack 100)", ["2.5x100", "3.6x200", "4.8x300", "7.6x450"], (1.9, 9.5)),
    T("fasteners", C, "pcs", "Threaded rod M{} galvanised 1 m", ["8", "10", "12"], (1.6, 3.9), qty=2),
    T("fasteners", C, "box", "Blind rivet {} mm aluminium (box 500)", ["3.2x8", "4x10", "4.8x12"], (9.0, 19.0)),
    T("fasteners", C, "box", "Drywall screw {} mm (box 1000)", ["3.5x25", "3.5x35", "3.9x45"], (11.0, 17.0)),
    T("fasteners", C, "box", "Nailer nails {} mm (box 2500)", ["2.8x50", "3.1x75", "3.1x90"], (28.0, 42.0)),
    T("fasteners", C, "box", "Chipboard screw {} mm (box 500)", ["3x20", "4x30", "4.5x45"], (5.5, 12.5)),
    # electrical
    T("electrical", M, "pcs", "Junction box IP55 {} mm", ["80x80", "100x100", "150x110"], (1.9, 6.5), qty=2),
    T("electrical", M, "pcs", "Socket outlet flush {}", ["white", "anthracite", "double white"], (3.5, 8.9), qty=2),
    T("electrical", M, "pcs", "Light switch single pole {}", ["white", "anthracite"], (3.2, 4.1), qty=2),
    T("electrical", M, "pcs", "Circuit breaker {} 2P", ["16A", "20A", "32A"], (12.5, 19.9)),
    T("electrical", M, "pcs", "RCD {}", ["40A 30mA 2P", "40A 300mA 4P", "63A 30mA 4P"], (48.0, 119.0)),
    T("electrical", C, "box", "Lever connector {} (box 50)", ["2-way", "3-way", "5-way"], (13.0, 21.0)),
    T("electrical", M, "pcs", "LED panel 600x600 {}", ["30W", "36W", "40W"], (24.0, 39.0)),
    T("electrical", M, "pcs", "LED batten IP65 {}", ["120 cm", "150 cm"], (19.0, 26.0)),
    T("electrical", M, "m", "Conduit PVC {} mm grey", ["16", "20", "25", "32"], (0.45, 1.25), qty=12),
    T("electrical", C, "pack", "Cable gland M{} (pack 10)", ["16", "20", "25"], (4.5, 8.9)),
    T("electrical", M, "pcs", "Flush box {}", ["single", "double"], (0.35, 0.79), qty=6),
    T("electrical", M, "pcs", "Smoke detector 10-year battery", cost=18.9),
    T("electrical", M, "pcs", "Distribution board {} modules", ["12", "24", "36"], (39.0, 95.0), bulky=True),
    T("electrical", C, "roll", "Insulating tape 19 mm {}", ["black", "blue", "yellow-green"], (0.9, 1.0), qty=2),
    T("electrical", C, "pack", "Heat shrink tubing assortment (pack 100)", cost=12.5),
    T("electrical", C, "pcs", "LED bulb E27 {}", ["9W", "13W"], (3.2, 4.5), qty=3),
    T("electrical", C, "pcs", "Fluorescent tube T8 {}", ["120 cm", "150 cm"], (4.5, 5.5), qty=2),
    T("electrical", M, "pcs", "Motion sensor {}", ["ceiling 360°", "wall 180°"], (24.0, 29.0)),
    # cable & wire
    T("cable & wire", M, "m", "XVB cable {}", ["3G1.5 mm²", "3G2.5 mm²", "5G2.5 mm²", "5G6 mm²"], (0.85, 4.9), qty=25),
    T("cable & wire", M, "m", "EXVB cable {}", ["3G1.5 mm²", "3G2.5 mm²"], (1.0, 1.6), qty=20),
    T("cable & wire", M, "roll", "VOB wire 2.5 mm² {} (roll 100 m)", ["blue", "brown", "black", "yellow-green"], (32.0, 36.0)),
    T("cable & wire", M, "roll", "VOB wire 1.5 mm² {} (roll 100 m)", ["blue", "brown", "black", "yellow-green"], (21.0, 23.0)),
    T("cable & wire", M, "m", "UTP cable Cat6 {}", ["grey", "LSZH"], (0.45, 0.7), qty=30),
    T("cable & wire", M, "m", "Coax cable RG6", cost=0.55, qty=20),
    T("cable & wire", M, "m", "Earth wire bare copper 35 mm²", cost=4.2, qty=10),
    T("cable & wire", M, "m", "Flexible cable H07RN-F {}", ["3G2.5 mm²", "5G4 mm²"], (2.6, 5.8), qty=15),
    T("cable & wire", M, "m", "Fibre optic cable {}", ["4-core", "12-core"], (0.9, 1.9), qty=40),
    # plumbing
    T("plumbing", M, "m", "PE pipe {} mm", ["25", "32", "40"], (1.1, 2.4), qty=10),
    T("plumbing", M, "m", "Multilayer pipe {} mm", ["16x2", "20x2", "26x3"], (1.4, 3.9), qty=15),
    T("plumbing", M, "pcs", "Copper pipe {} mm (5 m)", ["15", "22", "28"], (19.0, 48.0), qty=2),
    T("plumbing", M, "pcs", "PVC pipe {} mm (3 m)", ["40", "50", "110"], (5.9, 19.0), qty=2),
    T("plumbing", M, "pcs", "PVC elbow {}", ["40 mm 45°", "50 mm 87°", "110 mm 45°", "110 mm 87°"], (0.8, 4.5), qty=3),
    T("plumbing", M, "pcs", "Press fitting elbow {} mm", ["15", "22", "28"], (4.2, 9.8), qty=4),
    T("plumbing", M, "pcs", "Press fitting tee {} mm", ["15", "22"], (6.5, 11.0), qty=2),
    T("plumbing", M, "pcs", "Ball valve {}", ['1/2"', '3/4"', '1"'], (7.5, 18.0)),
    T("plumbing", M, "pcs", "Siphon {} mm", ["32", "40"], (6.0, 8.0)),
    T("plumbing", C, "roll", "PTFE thread seal tape 12 mm x 12 m", cost=0.9, qty=2),
    T("plumbing", C, "box", "Pipe clamp {} mm (box 50)", ["15", "22", "32", "110"], (9.0, 35.0)),
    T("plumbing", M, "pcs", "Flexible hose {}", ['3/8" 30 cm', '1/2" 50 cm'], (3.5, 5.5), qty=2),
    T("plumbing", M, "pcs", "Thermostatic radiator valve {}", ["straight", "angled"], (21.0, 23.0)),
    # sealants & adhesives
    T("sealants & adhesives", C, "pcs", "Silicone sealant {} 310 ml", ["transparent", "white", "grey", "black"], (5.9, 6.9), qty=2),
    T("sealants & adhesives", C, "pcs", "Sanitary silicone {} 300 ml", ["white", "transparent", "jasmine"], (7.5, 7.9), qty=2),
    T("sealants & adhesives", C, "pcs", "Acrylic sealant white 310 ml", cost=3.4, qty=2),
    T("sealants & adhesives", C, "pcs", "PU foam {} 750 ml", ["gun grade", "fire-rated"], (8.9, 16.5), qty=2),
    T("sealants & adhesives", C, "pcs", "Construction adhesive {} 290 ml", ["MS polymer", "high tack"], (9.5, 13.9), qty=2),
    T("sealants & adhesives", C, "pcs", "Two-component epoxy {}", ["5 min 25 ml", "metal 50 ml"], (7.9, 11.5)),
    T("sealants & adhesives", C, "pcs", "Marine sealant {} 300 ml", ["black", "white"], (17.0, 17.9), qty=2),
    T("sealants & adhesives", C, "pcs", "Wood glue D3 750 g", cost=11.5),
    T("sealants & adhesives", C, "pcs", "Thread locker medium strength 50 ml", cost=14.9),
    T("sealants & adhesives", C, "pcs", "Fire-rated sealant 310 ml", cost=13.5, qty=2),
    T("sealants & adhesives", C, "pcs", "Bitumen sealant 310 ml", cost=7.2, qty=2),
    # safety & PPE
    T("safety & PPE", C, "pack", "Work gloves nitrile size {} (pack 12)", ["8", "9", "10", "11"], (14.9, 14.9)),
    T("safety & PPE", C, "pcs", "Cut-resistant gloves level C size {}", ["9", "10"], (8.5, 8.5)),
    T("safety & PPE", C, "pcs", "Safety glasses {}", ["clear", "tinted"], (4.2, 4.9)),
    T("safety & PPE", C, "box", "Ear plugs foam (box 200)", cost=24.0),
    T("safety & PPE", C, "box", "FFP2 dust masks (box 20)", cost=16.9),
    T("safety & PPE", C, "box", "FFP3 masks with valve (box 10)", cost=22.5),
    T("safety & PPE", C, "pcs", "Hi-vis vest size {}", ["M", "L", "XL", "XXL"], (3.9, 3.9)),
    T("safety & PPE", C, "pcs", "Disposable coverall size {}", ["L", "XL"], (6.5, 6.5)),
    T("safety & PPE", C, "pcs", "Safety helmet {}", ["white", "yellow", "blue"], (12.9, 12.9)),
    T("safety & PPE", C, "set", "First aid kit refill", cost=29.0),
    T("safety & PPE", TL, "pcs", "Safety harness full body {}", ["single point", "two point"], (89.0, 139.0)),
    T("safety & PPE", TL, "pcs", "Fall arrester retractable 6 m", cost=249.0),
    T("safety & PPE", TL, "pcs", "Life jacket 150N automatic", cost=79.0),
    # power tools
    T("power tools", TL, "pcs", "Cordless drill driver 18V", cost=189.0),
    T("power tools", TL, "pcs", "Cordless impact driver 18V", cost=169.0),
    T("power tools", TL, "pcs", "Cordless hammer drill 18V", cost=249.0),
    T("power tools", TL, "pcs", "Hammer drill SDS-plus 800W", cost=219.0),
    T("power tools", TL, "pcs", "Demolition hammer SDS-max 1500W", cost=649.0),
    T("power tools", TL, "pcs", "Angle grinder {}", ["115 mm", "125 mm", "230 mm"], (79.0, 189.0)),
    T("power tools", TL, "pcs", "Circular saw {}", ["165 mm", "190 mm"], (159.0, 229.0)),
    T("power tools", TL, "pcs", "Jigsaw 650W", cost=139.0),
    T("power tools", TL, "pcs", "Reciprocating saw 18V", cost=199.0),
    T("power tools", TL, "pcs", "Oscillating multi-tool 18V", cost=179.0),
    T("power tools", TL, "pcs", "Heat gun 2000W", cost=59.0),
    T("power tools", TL, "set", "Core drill motor 2000W", cost=899.0),
    T("power tools", TL, "pcs", "Wall chaser 125 mm", cost=459.0),
    T("power tools", TL, "set", "Press tool 12-35 mm", cost=1890.0),
    T("power tools", TL, "pcs", "Pipe threading machine", cost=1450.0, bulky=True),
    T("power tools", TL, "pcs", "Tile cutter electric 200 mm", cost=389.0, bulky=True),
    T("power tools", TL, "pcs", "Concrete mixer 140 l", cost=329.0, bulky=True),
    T("power tools", TL, "pcs", "Generator 5 kVA", cost=1190.0, bulky=True),
    T("power tools", TL, "pcs", "Pressure washer 150 bar", cost=449.0),
    T("power tools", TL, "pcs", "Wet and dry vacuum 30 l", cost=229.0),
    T("power tools", TL, "pcs", "Needle scaler pneumatic", cost=389.0),
    T("power tools", TL, "pcs", "Plate compactor 90 kg", cost=1690.0, bulky=True),
    T("power tools", TL, "pcs", "Extension cable reel {}", ["25 m", "40 m"], (39.0, 69.0)),
    T("power tools", TL, "pcs", "LED work light {}", ["20W", "50W"], (29.0, 69.0)),
    T("power tools", TL, "pcs", "Battery 18V {}", ["4.0 Ah", "5.0 Ah"], (79.0, 95.0)),
    T("power tools", TL, "pcs", "Cordless grease gun 18V", cost=259.0),
    T("power tools", TL, "set", "Welding inverter 200A", cost=649.0),
    # hand tools
    T("hand tools", TL, "pcs", "Spirit level {}", ["60 cm", "120 cm", "200 cm"], (25.0, 69.0)),
    T("hand tools", TL, "pcs", "Torque wrench {}", ["20-100 Nm", "60-340 Nm"], (79.0, 159.0)),
    T("hand tools", TL, "pcs", "Pipe wrench {}", ['14"', '18"', '24"'], (25.0, 49.0)),
    T("hand tools", TL, "set", "Screwdriver set VDE {}", ["7-piece", "12-piece"], (39.0, 69.0)),
    T("hand tools", TL, "set", 'Socket set 1/2" {}', ["24-piece", "94-piece"], (69.0, 219.0)),
    T("hand tools", TL, "pcs", "Crimping tool {}", ["ferrules 0.25-6 mm²", "cable lugs 6-50 mm²"], (45.0, 129.0)),
    T("hand tools", TL, "pcs", "Hydraulic cable cutter", cost=229.0),
    T("hand tools", TL, "pcs", "Bolt cutter {}", ["600 mm", "900 mm"], (39.0, 69.0)),
    T("hand tools", TL, "pcs", "Pipe cutter {}", ["copper 3-35 mm", "PVC 42 mm"], (19.0, 29.0)),
    T("hand tools", TL, "pcs", "Tile cutter manual 600 mm", cost=119.0),
    T("hand tools", TL, "pcs", "Sledgehammer 5 kg", cost=39.0),
    T("hand tools", TL, "pcs", "Ladder {}", ["3x8 rungs", "3x12 rungs"], (169.0, 329.0), bulky=True),
    T("hand tools", TL, "pcs", "Step ladder {}", ["5 steps", "7 steps"], (69.0, 99.0), bulky=True),
    T("hand tools", TL, "pcs", "Wheelbarrow 100 l", cost=89.0, bulky=True),
    T("hand tools", TL, "pcs", "Rivet gun", cost=39.0),
    T("hand tools", TL, "pcs", "Pipe bender {}", ["15 mm", "22 mm"], (59.0, 79.0)),
    T("hand tools", TL, "set", "Plier set VDE 3-piece", cost=89.0),
    # measuring
    T("measuring", TL, "pcs", "Laser distance meter {}", ["50 m", "100 m"], (89.0, 199.0)),
    T("measuring", TL, "pcs", "Multimeter CAT IV", cost=149.0),
    T("measuring", TL, "set", "Installation tester", cost=1290.0),
    T("measuring", TL, "pcs", "Clamp meter AC/DC", cost=189.0),
    T("measuring", TL, "set", "Rotating laser level", cost=890.0),
    T("measuring", TL, "pcs", "Cross line laser green", cost=249.0),
    T("measuring", TL, "pcs", "Thermal imaging camera", cost=690.0),
    T("measuring", TL, "pcs", "Moisture meter", cost=129.0),
    T("measuring", TL, "pcs", "Gas detector 4-gas", cost=849.0),
    T("measuring", TL, "set", "Cable locator", cost=1490.0),
    T("measuring", TL, "set", "Earth resistance tester", cost=990.0),
    T("measuring", TL, "set", "Refrigerant manifold gauge set", cost=299.0),
    T("measuring", TL, "pcs", "Electronic leak detector", cost=349.0),
    T("measuring", TL, "pcs", "Sound level meter", cost=289.0),
    T("measuring", TL, "set", "Total station", cost=8900.0, bulky=True),
    T("measuring", C, "pcs", "Tape measure {}", ["5 m", "8 m"], (8.5, 12.9)),
    T("measuring", C, "pcs", "Carpenter pencil (box 12)", cost=6.9),
    # paint
    T("paint", C, "l", "Wall paint matt {}", ["white", "off-white"], (6.5, 7.2), qty=10),
    T("paint", C, "l", "Primer {}", ["universal", "metal anti-rust"], (9.5, 14.0), qty=5),
    T("paint", C, "l", "Antifouling paint {}", ["red", "black"], (38.0, 42.0), qty=5),
    T("paint", C, "kg", "Epoxy floor coating {}", ["grey", "green"], (14.0, 16.0), qty=10),
    T("paint", C, "l", "Road marking paint {}", ["white", "yellow"], (8.0, 9.0), qty=15),
    T("paint", C, "pcs", "Marking spray fluorescent {} 500 ml", ["red", "orange", "blue"], (5.9, 5.9), qty=2),
    T("paint", C, "roll", "Masking tape {} mm (roll 50 m)", ["25", "38", "50"], (2.5, 4.9), qty=2),
    T("paint", C, "pcs", "Paint roller {} cm", ["10", "18", "25"], (3.5, 7.5)),
    T("paint", C, "set", "Paint brush set 5-piece", cost=12.5),
    T("paint", C, "l", "Thinner {}", ["white spirit", "cellulose"], (4.5, 6.5), qty=1),
    T("paint", C, "l", "Wood stain {}", ["teak", "clear"], (15.5, 15.5), qty=2.5),
    T("paint", C, "pcs", "Dust sheet 4x5 m", cost=2.9, qty=2),
    T("paint", C, "l", "Anti-corrosion coating zinc-rich", cost=24.0, qty=4),
    # building materials
    T("building materials", M, "pcs", "Plasterboard 12.5 mm {} cm", ["260x120", "300x120"], (9.5, 11.5), qty=8, bulky=True),
    T("building materials", M, "m2", "OSB board 18 mm", cost=10.5, qty=6, bulky=True),
    T("building materials", M, "m2", "PIR insulation {}", ["60 mm", "100 mm", "120 mm"], (12.0, 24.0), qty=20, bulky=True),
    T("building materials", M, "m2", "Mineral wool {}", ["100 mm", "160 mm"], (6.0, 9.0), qty=20, bulky=True),
    T("building materials", M, "kg", "Ready-mix mortar {}", ["masonry", "cement screed"], (0.22, 0.28), qty=250, bulky=True),
    T("building materials", M, "kg", "Tile adhesive C2TE", cost=0.75, qty=50, bulky=True),
    T("building materials", M, "m3", "Ready-mix concrete C25/30", cost=130.0, qty=2.5, bulky=True),
    T("building materials", M, "m3", "Sand {}", ["stabilised", "masonry"], (45.0, 55.0), qty=1.5, bulky=True),
    T("building materials", M, "m3", "Crushed stone 0/32", cost=35.0, qty=3, bulky=True),
    T("building materials", M, "m", "Rebar B500 {} mm", ["8", "10", "12", "16"], (0.9, 2.8), qty=30, bulky=True),
    T("building materials", M, "m2", "Mesh reinforcement 150x150x8 mm", cost=3.8, qty=20, bulky=True),
    T("building materials", M, "m", "Timber 38x89 mm", cost=2.4, qty=24, bulky=True),
    T("building materials", M, "m2", "Damp-proof membrane", cost=1.2, qty=25, bulky=True),
    T("building materials", M, "pcs", "Aerated concrete block {}", ["100 mm", "150 mm"], (2.9, 3.9), qty=40, bulky=True),
    T("building materials", M, "pcs", "Cold asphalt (bag 25 kg)", cost=14.5, qty=4, bulky=True),
    T("building materials", M, "m2", "Paving stone {}", ["concrete grey 22x11", "natural stone"], (18.0, 45.0), qty=12, bulky=True),
    T("building materials", M, "pcs", "Cement (bag 25 kg)", cost=6.9, qty=6, bulky=True),
    # marine
    T("marine", M, "pcs", "Zinc anode {}", ["hull 2.5 kg", "shaft 40 mm", "rudder 1 kg"], (29.0, 59.0), qty=2),
    T("marine", M, "m", "Mooring rope {}", ["16 mm polyester", "24 mm polyester", "32 mm nylon"], (2.9, 8.5), qty=25),
    T("marine", M, "pcs", "Shackle galvanised {} mm", ["10", "13", "16", "19"], (3.5, 12.0), qty=2),
    T("marine", M, "pcs", "Fender {}", ["15x60 cm", "20x75 cm"], (35.0, 59.0), bulky=True),
    T("marine", C, "pack", "Stainless hose clamp {} mm (pack 10)", ["20-32", "32-50", "60-80"], (9.0, 14.0)),
    T("marine", C, "pcs", "Marine grease cartridge 400 g", cost=6.9, qty=2),
    T("marine", M, "m", "Steel wire rope {} mm", ["8", "12"], (2.1, 4.5), qty=20),
    T("marine", C, "pack", "Welding electrodes {} (pack 5 kg)", ["E6013 3.2 mm", "E7018 3.2 mm"], (39.0, 55.0)),
    T("marine", M, "pcs", "Bilge pump {}", ["12V 1100 gph", "24V 2000 gph"], (69.0, 129.0)),
    T("marine", C, "kg", "Oakum caulking cotton", cost=18.0, qty=1.5),
    # abrasives & drilling
    T("abrasives & drilling", C, "box", "Cutting disc {} (box 25)", ["115x1 mm inox", "125x1 mm inox", "230x1.9 mm"], (18.0, 39.0)),
    T("abrasives & drilling", C, "box", "Grinding disc 125x6 mm (box 10)", cost=22.0),
    T("abrasives & drilling", C, "box", "Flap disc 125 mm {} (box 10)", ["K40", "K80"], (29.0, 29.0)),
    T("abrasives & drilling", C, "pcs", "Drill bit SDS-plus {}", ["6x160 mm", "8x160 mm", "10x210 mm", "12x260 mm", "16x310 mm"], (3.5, 14.9)),
    T("abrasives & drilling", C, "set", "HSS drill bit set {}", ["1-10 mm 19-piece", "1-13 mm 25-piece"], (29.0, 49.0)),
    T("abrasives & drilling", C, "pcs", "Hole saw {} mm", ["35", "68", "82"], (12.0, 25.0)),
    T("abrasives & drilling", C, "pack", "Jigsaw blades wood (pack 5)", cost=7.5),
    T("abrasives & drilling", C, "pack", "Reciprocating saw blades demolition (pack 5)", cost=19.9),
    T("abrasives & drilling", C, "roll", "Sanding paper {} (roll 50 m)", ["P80", "P120"], (24.0, 26.0)),
    T("abrasives & drilling", C, "pcs", "Diamond blade {} mm", ["125", "230"], (29.0, 79.0)),
    T("abrasives & drilling", C, "pcs", "Bit set 1/4\" 32-piece", cost=19.9),
    # cleaning
    T("cleaning", C, "l", "Floor cleaner concentrate", cost=3.5, qty=5),
    T("cleaning", C, "pack", "Microfibre cloths {} (pack 10)", ["blue", "red", "yellow", "green"], (9.9, 9.9)),
    T("cleaning", C, "roll", "Waste bags {} (roll 25)", ["60 l", "120 l"], (3.5, 6.5), qty=2),
    T("cleaning", C, "pcs", "Hand soap refill 500 ml", cost=3.9, qty=4),
    T("cleaning", C, "pack", "Toilet paper industrial (pack 6)", cost=12.9, qty=2),
    T("cleaning", C, "pcs", "Disinfectant spray 750 ml", cost=4.9, qty=3),
    T("cleaning", C, "l", "Degreaser {}", ["industrial", "food-safe"], (6.5, 8.5), qty=5),
    T("cleaning", C, "pcs", "Descaler 1 l", cost=7.5, qty=2),
    T("cleaning", M, "pcs", "HVAC filter {}", ["G4 592x592", "F7 592x592"], (8.5, 22.0), qty=4),
    T("cleaning", C, "pack", "Paper towels (pack 4)", cost=8.9, qty=2),
    # road & signage
    T("road & signage", TL, "pcs", "Traffic cone 75 cm", cost=12.5),
    T("road & signage", TL, "pcs", "Crowd barrier 2.5 m", cost=59.0, bulky=True),
    T("road & signage", TL, "pcs", "Construction fence panel 3.5 m", cost=49.0, bulky=True),
    T("road & signage", TL, "pcs", "Warning light LED flashing", cost=24.0),
    T("road & signage", M, "pcs", "Road sign {}", ["C3 no entry", "A51 danger", "F19 one-way"], (49.0, 69.0), bulky=True),
    T("road & signage", M, "pcs", "Sign post galvanised 76 mm 3 m", cost=39.0, bulky=True),
    T("road & signage", M, "pcs", "Street light LED module 40W", cost=189.0),
    T("road & signage", M, "pcs", "Bollard steel {}", ["removable", "fixed"], (89.0, 149.0), bulky=True),
    T("road & signage", C, "pcs", "De-icing salt (bag 25 kg)", cost=7.5, qty=10, bulky=True),
]

# Relative weight of each category per sector.
_CATS = list(CATEGORY_PREFIX)
SECTOR_WEIGHTS = {
    "construction":      [3, 1, .5, 1, 2, 2, 2.5, 2, 1, 1, 3, 0, 2, .2, .3],
    "installation":      [2, 3.5, 3, 3, 1.5, 1.5, 2, 2, 1.5, .3, .3, 0, 1.5, .2, 0],
    "maritime":          [2, 1, 1, 1, 2.5, 2.5, 2, 1.5, 1, 2.5, .2, 4, 2.5, .5, 0],
    "public sector":     [1.5, 1.5, .5, 1, 1, 2, 1.5, 2, .8, 2, 1.5, 0, 1, 1.5, 4],
    "facility services": [2, 2.5, .5, 2, 2, 1.5, 1.5, 1.5, 1, 1.5, .3, 0, .8, 4, .2],
}


@dataclass(frozen=True)
class Article:
    category: str
    kind: str
    unit: str
    name: str
    cost: float
    qty: float
    bulky: bool


def articles() -> list[Article]:
    out = []
    for t in TEMPLATES:
        n = len(t.variants)
        for i, v in enumerate(t.variants):
            cost = t.cost[0] + (t.cost[1] - t.cost[0]) * (i / (n - 1) if n > 1 else 0.0)
            name = t.name.format(v) if "{}" in t.name else t.name
            out.append(Article(t.category, t.kind, t.unit, name, cost, t.qty, t.bulky))
    return out


ARTICLES = articles()

"""Rekognition-style names, parents and categories for the offline labeller's two models.

Neither model's label file has any hierarchy, and their names are lower-case synonyms lists
("tabby, tabby cat"). Rekognition answers with Title Case names, every ancestor of a label as its
`Parents` (Car -> Vehicle -> Transportation), and a category. This module is the project's own,
deliberately small, mapping: the COCO classes (detector) and the ImageNet classes (classifier) get
parents, by name where it matters and by the ImageNet index ranges (which group the classes: 151-268
are dog breeds, ...) for the rest. It is not Rekognition's taxonomy, only shaped like it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# SSD MobileNet V2 (COCO) class ids, as the TensorFlow Object Detection API numbers them (90 ids,
# 80 used), under the name Rekognition would use.
COCO_CLASSES: dict[int, str] = {
    1: "Person", 2: "Bicycle", 3: "Car", 4: "Motorcycle", 5: "Airplane", 6: "Bus", 7: "Train",
    8: "Truck", 9: "Boat", 10: "Traffic Light", 11: "Fire Hydrant", 13: "Stop Sign",
    14: "Parking Meter", 15: "Bench", 16: "Bird", 17: "Cat", 18: "Dog", 19: "Horse", 20: "Sheep",
    21: "Cow", 22: "Elephant", 23: "Bear", 24: "Zebra", 25: "Giraffe", 27: "Backpack",
    28: "Umbrella", 31: "Handbag", 32: "Tie", 33: "Suitcase", 34: "Frisbee", 35: "Ski",
    36: "Snowboard", 37: "Ball", 38: "Kite", 39: "Baseball Bat", 40: "Baseball Glove",
    41: "Skateboard", 42: "Surfboard", 43: "Tennis Racket", 44: "Bottle", 46: "Wine Glass",
    47: "Cup", 48: "Fork", 49: "Knife", 50: "Spoon", 51: "Bowl", 52: "Banana", 53: "Apple",
    54: "Sandwich", 55: "Orange", 56: "Broccoli", 57: "Carrot", 58: "Hot Dog", 59: "Pizza",
    60: "Donut", 61: "Cake", 62: "Chair", 63: "Couch", 64: "Potted Plant", 65: "Bed",
    67: "Dining Table", 70: "Toilet", 72: "TV", 73: "Laptop", 74: "Mouse", 75: "Remote Control",
    76: "Computer Keyboard", 77: "Mobile Phone", 78: "Microwave", 79: "Oven", 80: "Toaster",
    81: "Sink", 82: "Refrigerator", 84: "Book", 85: "Clock", 86: "Vase", 87: "Scissors",
    88: "Teddy Bear", 89: "Hair Drier", 90: "Toothbrush",
}  # fmt: skip

# ImageNet classes whose first synonym is ambiguous or unlike Rekognition's word for the thing.
# Same-name classes merge with the detector's (Cup, Mouse, Mobile Phone...).
IMAGENET_NAMES: dict[int, str] = {
    134: "Crane Bird", 264: "Cardigan Welsh Corgi", 281: "Tabby Cat", 339: "Sorrel Horse",
    436: "Station Wagon", 444: "Tandem Bicycle", 468: "Taxi", 487: "Mobile Phone",
    504: "Coffee Cup", 608: "Jeans", 638: "Swimsuit", 639: "Swimsuit", 681: "Laptop",
    703: "Bench", 717: "Pickup Truck", 726: "Hand Plane", 751: "Race Car", 761: "Remote Control",
    508: "Computer Keyboard", 831: "Couch", 836: "Sunglasses", 837: "Sunglasses", 850: "Teddy Bear",
    851: "TV", 881: "Upright Piano", 934: "Hot Dog", 948: "Apple", 981: "Baseball Player",
    989: "Rose Hip", 998: "Corn Ear",
}  # fmt: skip

# Immediate parents, by name. Ancestors are the transitive closure, nearest first.
PARENTS: dict[str, tuple[str, ...]] = {
    # Living things
    "Pet": ("Animal",), "Mammal": ("Animal",), "Bird": ("Animal",), "Reptile": ("Animal",),
    "Amphibian": ("Animal",), "Invertebrate": ("Animal",), "Wildlife": ("Animal",),
    "Sea Life": ("Animal",), "Livestock": ("Animal",), "Fish": ("Sea Life",),
    "Shark": ("Fish",), "Insect": ("Invertebrate",), "Canine": ("Mammal",),
    "Cat": ("Pet", "Mammal"), "Dog": ("Pet", "Canine"), "Horse": ("Mammal",),
    "Sheep": ("Livestock", "Mammal"), "Cow": ("Livestock", "Mammal"),
    "Elephant": ("Mammal", "Wildlife"), "Bear": ("Mammal", "Wildlife"),
    "Zebra": ("Mammal", "Wildlife"), "Giraffe": ("Mammal", "Wildlife"),
    "Rodent": ("Mammal",), "Rabbit": ("Rodent",), "Primate": ("Mammal", "Wildlife"),
    "Plant": (), "Flower": ("Plant",), "Fungus": ("Plant",), "Potted Plant": ("Plant",),
    # Transportation
    "Vehicle": ("Transportation",), "Car": ("Vehicle",), "Truck": ("Vehicle",),
    "Bus": ("Vehicle",), "Van": ("Vehicle",), "Train": ("Vehicle",), "Motorcycle": ("Vehicle",),
    "Bicycle": ("Vehicle",), "Watercraft": ("Vehicle",), "Boat": ("Watercraft",),
    "Ship": ("Watercraft",), "Aircraft": ("Vehicle",), "Airplane": ("Aircraft",),
    "Spaceship": ("Aircraft",), "Rocket": ("Vehicle",),
    "Ambulance": ("Van",), "Police Van": ("Van",), "Moving Van": ("Van",), "Minivan": ("Car",),
    "Station Wagon": ("Car",), "Taxi": ("Car",), "Convertible": ("Car",), "Jeep": ("Car",),
    "Limousine": ("Car",), "Model T": ("Car",), "Race Car": ("Car",), "Sports Car": ("Car",),
    "Pickup Truck": ("Truck",), "Fire Engine": ("Truck",), "Garbage Truck": ("Truck",),
    "Tow Truck": ("Truck",), "Trailer Truck": ("Truck",), "Minibus": ("Bus",),
    "School Bus": ("Bus",), "Trolleybus": ("Bus",), "Streetcar": ("Train",),
    "Electric Locomotive": ("Train",), "Steam Locomotive": ("Train",), "Passenger Car": ("Train",),
    "Freight Car": ("Train",), "Bullet Train": ("Train",), "Moped": ("Motorcycle",),
    "Motor Scooter": ("Motorcycle",), "Mountain Bike": ("Bicycle",), "Tandem Bicycle": ("Bicycle",),
    "Tricycle": ("Vehicle",), "Unicycle": ("Vehicle",), "Airliner": ("Airplane",),
    "Warplane": ("Airplane", "Weapon"), "Airship": ("Aircraft",), "Space Shuttle": ("Spaceship",),
    "Canoe": ("Boat",), "Catamaran": ("Boat",), "Trimaran": ("Boat",), "Yawl": ("Boat",),
    "Schooner": ("Boat",), "Speedboat": ("Boat",), "Lifeboat": ("Boat",), "Fireboat": ("Boat",),
    "Gondola": ("Boat",), "Container Ship": ("Ship",), "Liner": ("Ship",),
    "Aircraft Carrier": ("Ship",), "Submarine": ("Watercraft",), "Go-kart": ("Vehicle",),
    "Golfcart": ("Vehicle",), "Snowmobile": ("Vehicle",), "Tractor": ("Vehicle",),
    "Forklift": ("Vehicle",), "Harvester": ("Vehicle",), "Recreational Vehicle": ("Vehicle",),
    "Tank": ("Vehicle", "Weapon"), "Missile": ("Rocket",), "Projectile": ("Rocket",),
    # Food and drink
    "Fruit": ("Food",), "Vegetable": ("Food",), "Dessert": ("Food",), "Bread": ("Food",),
    "Fast Food": ("Food",), "Coffee": ("Beverage",), "Alcohol": ("Beverage",),
    "Espresso": ("Coffee",), "Red Wine": ("Alcohol",), "Eggnog": ("Beverage",),
    "Banana": ("Fruit",), "Apple": ("Fruit",), "Orange": ("Fruit",), "Lemon": ("Fruit",),
    "Strawberry": ("Fruit",), "Fig": ("Fruit",), "Pineapple": ("Fruit",), "Jackfruit": ("Fruit",),
    "Custard Apple": ("Fruit",), "Pomegranate": ("Fruit",), "Broccoli": ("Vegetable",),
    "Carrot": ("Vegetable",), "Cauliflower": ("Vegetable",), "Head Cabbage": ("Vegetable",),
    "Zucchini": ("Vegetable",), "Spaghetti Squash": ("Vegetable",), "Acorn Squash": ("Vegetable",),
    "Butternut Squash": ("Vegetable",), "Cucumber": ("Vegetable",), "Artichoke": ("Vegetable",),
    "Bell Pepper": ("Vegetable",), "Cardoon": ("Vegetable",), "Mushroom": ("Vegetable", "Fungus"),
    "Sandwich": ("Food",), "Hot Dog": ("Fast Food",), "Pizza": ("Fast Food",),
    "Cheeseburger": ("Fast Food",), "Burrito": ("Food",), "Donut": ("Dessert",),
    "Cake": ("Dessert",), "Trifle": ("Dessert",), "Ice Cream": ("Dessert",), "Ice Lolly": ("Dessert",),
    "French Loaf": ("Bread",), "Bagel": ("Bread",), "Pretzel": ("Bread",),
    # Kitchen and dining
    "Cup": ("Tableware",), "Coffee Cup": ("Cup",), "Bowl": ("Tableware",),
    "Mixing Bowl": ("Bowl",), "Soup Bowl": ("Bowl",), "Plate": ("Tableware",),
    "Glass": ("Tableware",), "Wine Glass": ("Glass",), "Beer Glass": ("Glass",),
    "Goblet": ("Glass",), "Cutlery": ("Tableware",), "Fork": ("Cutlery",), "Knife": ("Cutlery",),
    "Spoon": ("Cutlery",), "Wooden Spoon": ("Spoon",), "Teapot": ("Tableware",),
    "Pitcher": ("Tableware",), "Bottle": (), "Wine Bottle": ("Bottle",), "Beer Bottle": ("Bottle",),
    "Pop Bottle": ("Bottle",), "Water Bottle": ("Bottle",), "Pill Bottle": ("Bottle",),
    # Furniture
    "Chair": ("Furniture",), "Couch": ("Furniture",), "Bed": ("Furniture",), "Table": ("Furniture",),
    "Bench": ("Furniture",), "Cabinet": ("Furniture",), "Dining Table": ("Table",), "Desk": ("Table",),
    "Bookcase": ("Furniture",), "Wardrobe": ("Furniture",), "Rocking Chair": ("Chair",),
    "Folding Chair": ("Chair",), "Barber Chair": ("Chair",), "Throne": ("Chair",),
    "Four-poster": ("Bed",), "Crib": ("Bed",), "Cradle": ("Bed",), "China Cabinet": ("Cabinet",),
    "Chiffonier": ("Cabinet",), "Medicine Chest": ("Cabinet",),
    # Electronics and appliances
    "Screen": ("Electronics",), "TV": ("Screen",), "Monitor": ("Screen",), "Computer": ("Electronics",),
    "Laptop": ("Computer",), "Desktop Computer": ("Computer",), "Hand-held Computer": ("Computer",),
    "Computer Hardware": ("Electronics",), "Mouse": ("Computer Hardware",),
    "Computer Keyboard": ("Computer Hardware",), "Hard Disc": ("Computer Hardware",),
    "Modem": ("Computer Hardware",), "Printer": ("Computer Hardware",), "Remote Control": ("Electronics",),
    "Phone": ("Electronics",), "Mobile Phone": ("Phone",), "Dial Telephone": ("Phone",),
    "Pay-phone": ("Phone",), "Camera": ("Electronics",), "Reflex Camera": ("Camera",),
    "Polaroid Camera": ("Camera",), "Speaker": ("Electronics",), "Loudspeaker": ("Speaker",),
    "IPod": ("Electronics",), "Radio": ("Electronics",), "CD Player": ("Electronics",),
    "Cassette Player": ("Electronics",), "Tape Player": ("Electronics",), "Projector": ("Electronics",),
    "Microwave": ("Appliance",), "Oven": ("Appliance",), "Toaster": ("Appliance",),
    "Refrigerator": ("Appliance",), "Hair Drier": ("Appliance",), "Dishwasher": ("Appliance",),
    "Washer": ("Appliance",), "Vacuum": ("Appliance",), "Electric Fan": ("Appliance",),
    "Space Heater": ("Appliance",), "Stove": ("Appliance",), "Espresso Maker": ("Appliance",),
    "Waffle Iron": ("Appliance",), "Sewing Machine": ("Appliance",), "Iron": ("Appliance",),
    "Crock Pot": ("Appliance",),
    # Apparel and accessories
    "Tie": ("Accessories",), "Bow Tie": ("Tie",), "Windsor Tie": ("Tie",), "Bolo Tie": ("Tie",),
    "Pants": ("Clothing",), "Jeans": ("Pants",), "Sweater": ("Clothing",), "Cardigan": ("Sweater",),
    "Sweatshirt": ("Sweater",), "Jersey": ("Clothing",), "Suit": ("Clothing",), "Coat": ("Clothing",),
    "Trench Coat": ("Coat",), "Fur Coat": ("Coat",), "Lab Coat": ("Coat",), "Kimono": ("Clothing",),
    "Gown": ("Clothing",), "Abaya": ("Clothing",), "Poncho": ("Clothing",), "Pajama": ("Clothing",),
    "Miniskirt": ("Clothing",), "Military Uniform": ("Clothing",), "Swimwear": ("Clothing",),
    "Bikini": ("Swimwear",), "Swimsuit": ("Swimwear",), "Swimming Trunks": ("Swimwear",),
    "Hat": ("Clothing",), "Cowboy Hat": ("Hat",), "Sombrero": ("Hat",), "Bonnet": ("Hat",),
    "Mortarboard": ("Hat",), "Shower Cap": ("Hat",), "Bathing Cap": ("Hat",),
    "Helmet": ("Clothing",), "Football Helmet": ("Helmet",), "Crash Helmet": ("Helmet",),
    "Pickelhaube": ("Helmet",), "Footwear": ("Clothing",), "Running Shoe": ("Footwear",),
    "Sandal": ("Footwear",), "Clog": ("Footwear",), "Loafer": ("Footwear",), "Cowboy Boot": ("Footwear",),
    "Sunglasses": ("Accessories",), "Bag": ("Accessories",), "Backpack": ("Bag",),
    "Handbag": ("Bag",), "Purse": ("Bag",), "Mailbag": ("Bag",), "Suitcase": ("Bag",),
    "Wallet": ("Accessories",), "Jewelry": ("Accessories",), "Necklace": ("Jewelry",),
    "Umbrella": ("Accessories",),
    # Sports, toys, music
    "Ball": ("Sport",), "Baseball": ("Ball",), "Basketball": ("Ball",), "Golf Ball": ("Ball",),
    "Soccer Ball": ("Ball",), "Tennis Ball": ("Ball",), "Volleyball": ("Ball",), "Rugby Ball": ("Ball",),
    "Croquet Ball": ("Ball",), "Ping-pong Ball": ("Ball",), "Ski": ("Sport",), "Snowboard": ("Sport",),
    "Surfboard": ("Sport",), "Skateboard": ("Sport",), "Tennis Racket": ("Sport",),
    "Baseball Bat": ("Sport",), "Baseball Glove": ("Sport",), "Baseball Player": ("Person", "Sport"),
    "Dumbbell": ("Sport",), "Barbell": ("Sport",), "Frisbee": ("Toy",), "Kite": ("Toy",),
    "Teddy Bear": ("Toy",), "Guitar": ("Musical Instrument",), "Acoustic Guitar": ("Guitar",),
    "Electric Guitar": ("Guitar",), "Piano": ("Musical Instrument",), "Grand Piano": ("Piano",),
    "Upright Piano": ("Piano",), "Accordion": ("Musical Instrument",), "Banjo": ("Musical Instrument",),
    "Bassoon": ("Musical Instrument",), "Cello": ("Musical Instrument",), "Violin": ("Musical Instrument",),
    "Cornet": ("Musical Instrument",), "French Horn": ("Musical Instrument",),
    "Trombone": ("Musical Instrument",), "Flute": ("Musical Instrument",), "Oboe": ("Musical Instrument",),
    "Sax": ("Musical Instrument",), "Harmonica": ("Musical Instrument",), "Harp": ("Musical Instrument",),
    "Drum": ("Musical Instrument",), "Steel Drum": ("Drum",), "Marimba": ("Musical Instrument",),
    "Gong": ("Musical Instrument",), "Maraca": ("Musical Instrument",), "Organ": ("Musical Instrument",),
    "Panpipe": ("Musical Instrument",), "Ocarina": ("Musical Instrument",),
    # Weapons, tools, signs, buildings, other things
    "Gun": ("Weapon",), "Assault Rifle": ("Gun",), "Rifle": ("Gun",), "Revolver": ("Gun",),
    "Cannon": ("Weapon",), "Tool": (), "Hammer": ("Tool",), "Screwdriver": ("Tool",),
    "Power Drill": ("Tool",), "Chain Saw": ("Tool",), "Hatchet": ("Tool",), "Shovel": ("Tool",),
    "Hand Plane": ("Tool",), "Carpenter's Kit": ("Tool",), "Lawn Mower": ("Tool",), "Crane": ("Machine",),
    "Tripod": ("Camera Equipment",), "Camera Equipment": ("Electronics",),
    "Traffic Light": ("Light",), "Table Lamp": ("Lamp",), "Lamp": ("Light",), "Spotlight": ("Light",),
    "Sign": (), "Road Sign": ("Sign",), "Stop Sign": ("Road Sign",), "Street Sign": ("Road Sign",),
    "Book": ("Publication",), "Comic Book": ("Book",), "Book Jacket": ("Book",), "Clock": (),
    "Analog Clock": ("Clock",), "Wall Clock": ("Clock",), "Digital Clock": ("Clock",),
    "Vase": ("Pottery",), "Architecture": (), "Building": ("Architecture",), "Shop": ("Building",),
    "Church": ("Building",), "Mosque": ("Building",), "Castle": ("Building",), "Palace": ("Building",),
    "Monastery": ("Building",), "Barn": ("Building",), "Library": ("Building",), "Cinema": ("Building",),
    "Restaurant": ("Building",), "Greenhouse": ("Building",), "Boathouse": ("Building",),
    "Planetarium": ("Building",), "Prison": ("Building",), "Yurt": ("Building",),
    "Bakery": ("Shop",), "Bookshop": ("Shop",), "Butcher Shop": ("Shop",), "Barbershop": ("Shop",),
    "Shoe Shop": ("Shop",), "Tobacco Shop": ("Shop",), "Toyshop": ("Shop",), "Confectionery": ("Shop",),
    "Grocery Store": ("Shop",), "Bridge": ("Architecture",), "Steel Arch Bridge": ("Bridge",),
    "Suspension Bridge": ("Bridge",), "Viaduct": ("Bridge",), "Dome": ("Architecture",),
    "Stupa": ("Architecture",), "Obelisk": ("Architecture",), "Triumphal Arch": ("Architecture",),
    "Megalith": ("Architecture",), "Water Tower": ("Architecture",), "Toilet Tissue": ("Paper",),
}  # fmt: skip

# Parents of the ImageNet classes that have no entry in PARENTS, by index range (the dataset lists
# related classes together). First matching range wins.
IMAGENET_RANGE_PARENTS: tuple[tuple[range, tuple[str, ...]], ...] = (
    (range(2, 5), ("Shark",)),
    (range(0, 7), ("Fish",)),
    (range(7, 25), ("Bird",)),
    (range(25, 33), ("Amphibian",)),
    (range(33, 69), ("Reptile",)),
    (range(69, 80), ("Invertebrate",)),
    (range(80, 101), ("Bird",)),
    (range(101, 102), ("Elephant",)),
    (range(102, 107), ("Mammal", "Wildlife")),
    (range(107, 127), ("Invertebrate", "Sea Life")),
    (range(127, 147), ("Bird",)),
    (range(147, 151), ("Mammal", "Sea Life")),
    (range(151, 269), ("Dog",)),
    (range(269, 281), ("Canine", "Wildlife")),
    (range(281, 286), ("Cat",)),
    (range(286, 294), ("Mammal", "Wildlife")),
    (range(294, 298), ("Bear",)),
    (range(298, 300), ("Mammal", "Wildlife")),
    (range(300, 327), ("Insect",)),
    (range(327, 330), ("Invertebrate", "Sea Life")),
    (range(330, 333), ("Rabbit",)),
    (range(333, 339), ("Rodent",)),
    (range(339, 340), ("Horse",)),
    (range(340, 354), ("Mammal",)),
    (range(354, 365), ("Mammal", "Wildlife")),
    (range(365, 385), ("Primate",)),
    (range(385, 387), ("Elephant",)),
    (range(387, 389), ("Mammal", "Wildlife")),
    (range(389, 398), ("Fish",)),
    (range(924, 966), ("Food",)),
    (range(966, 970), ("Beverage",)),
    (range(970, 981), ("Nature", "Outdoors")),
    (range(981, 984), ("Person",)),
    (range(985, 987), ("Flower",)),
    (range(991, 998), ("Fungus",)),
    (range(984, 999), ("Plant",)),
)

# Rekognition's category names; a label takes the category of itself or its nearest ancestor.
CATEGORY_OF: dict[str, str] = {
    "Animal": "Animals and Pets",
    "Person": "Person Description",
    "Transportation": "Vehicles and Automotive",
    "Food": "Food and Beverage",
    "Beverage": "Food and Beverage",
    "Tableware": "Kitchen and Dining",
    "Bottle": "Kitchen and Dining",
    "Furniture": "Furniture and Furnishings",
    "Electronics": "Technology and Computing",
    "Appliance": "Home and Indoors",
    "Clothing": "Apparel and Accessories",
    "Accessories": "Apparel and Accessories",
    "Sport": "Sports",
    "Toy": "Toys and Gaming",
    "Musical Instrument": "Hobbies and Interests",
    "Weapon": "Weapons and Military",
    "Tool": "Tools and Machinery",
    "Machine": "Tools and Machinery",
    "Architecture": "Buildings and Architecture",
    "Nature": "Nature and Outdoors",
    "Outdoors": "Nature and Outdoors",
    "Plant": "Plants and Flowers",
    "Sign": "Text and Documents",
    "Publication": "Text and Documents",
}
DEFAULT_CATEGORY = "Everyday Objects"


def title_case(text: str) -> str:
    """"German shepherd" -> "German Shepherd"; keeps capitals already there ("CD player" -> "CD Player")."""
    return " ".join(word[:1].upper() + word[1:] for word in text.split())


def imagenet_name(index: int, synonyms: str) -> str:
    """The display name of ImageNet class `index` from its label-file line ("tabby, tabby cat")."""
    return IMAGENET_NAMES.get(index) or title_case(synonyms.split(",")[0].strip())


@dataclass(frozen=True, kw_only=True)
class LabelInfo:
    name: str
    parents: tuple[str, ...]  # every ancestor, nearest first, as Rekognition's Parents lists them
    categories: tuple[str, ...]


class Taxonomy:
    """Names, ancestors and categories for both models' classes, checked for consistency once."""

    def __init__(self, *, imagenet_lines: list[str]):
        if len(imagenet_lines) != 1000:
            raise ValueError(f"expected 1000 ImageNet labels, got {len(imagenet_lines)}")
        self._parents: dict[str, tuple[str, ...]] = dict(PARENTS)
        self._infos: dict[str, LabelInfo] = {}
        classifier_names = [imagenet_name(index, line) for index, line in enumerate(imagenet_lines)]
        for index, name in enumerate(classifier_names):
            if name in PARENTS:
                continue
            range_parents = next((parents for span, parents in IMAGENET_RANGE_PARENTS if index in span), ())
            known = self._parents.setdefault(name, range_parents)
            if known != range_parents:
                raise ValueError(f"ImageNet name {name!r} has two parent sets: {known} and {range_parents}")
        self.detector_labels: dict[int, LabelInfo] = {
            class_id: self.info(name) for class_id, name in COCO_CLASSES.items()
        }
        self.classifier_labels: list[LabelInfo] = [self.info(name) for name in classifier_names]
        # Classifier ancestors get the summed probability of all their descendant classes
        # ("Cat" = Tabby Cat + Tiger Cat + Egyptian Cat ...): membership[class, ancestor] is 1 or 0.
        self.classifier_ancestors: list[str] = sorted(
            {parent for label in self.classifier_labels for parent in label.parents}
        )
        column = {name: position for position, name in enumerate(self.classifier_ancestors)}
        self.classifier_membership = np.zeros((1000, len(self.classifier_ancestors)), dtype=np.float32)
        for index, label in enumerate(self.classifier_labels):
            for parent in label.parents:
                self.classifier_membership[index, column[parent]] = 1.0

    def info(self, name: str) -> LabelInfo:
        known = self._infos.get(name)
        if known is None:
            parents = self.ancestors(name)
            known = LabelInfo(name=name, parents=parents, categories=(self._category(name, parents),))
            self._infos[name] = known  # a race only computes the same value twice
        return known

    def ancestors(self, name: str) -> tuple[str, ...]:
        """Every ancestor once, each before its own ancestors: Dog -> (Canine, Pet, Mammal, Animal)."""
        found: list[str] = []
        frontier = list(self._parents.get(name, ()))
        while frontier:
            parent = frontier.pop(0)
            if parent == name:
                raise ValueError(f"label {name!r} is its own ancestor")
            if parent not in found:
                found.append(parent)
                frontier.extend(self._parents.get(parent, ()))
        # Breadth-first order alone could list Animal before Mammal (Dog -> Pet -> Animal).
        return tuple(sorted(found, key=lambda parent: -self._height(parent)))

    def _height(self, name: str, seen: tuple[str, ...] = ()) -> int:
        """Length of the longest chain of parents above `name` (Animal 0, Mammal 1, Canine 2)."""
        if name in seen:
            raise ValueError(f"parent cycle through {name!r}")
        return max((1 + self._height(parent, (*seen, name)) for parent in self._parents.get(name, ())), default=0)

    @staticmethod
    def _category(name: str, parents: tuple[str, ...]) -> str:
        for candidate in (name, *parents):
            if candidate in CATEGORY_OF:
                return CATEGORY_OF[candidate]
        return DEFAULT_CATEGORY

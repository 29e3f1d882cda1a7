"""Word lists and sentence templates of the synthetic demo sample (:mod:`xling.demo.sample`).

SYNTHETIC TEMPLATE DATA written for the xling demo, not copied from any dataset;
see :mod:`xling.demo.sample` for what it is (and is not) good for.
"""

from __future__ import annotations

# --- Lexicon ---------------------------------------------------------------
# Invented combinations of common first and last names. They all start with a
# consonant sound, so no template needs French elision (d', l') or the Spanish
# "y" -> "e" change before them.
PERSONS = (
    "Maria Schmidt", "Jonas Weber", "Lucía Fernández", "Pierre Dubois",
    "Sofia Rossi", "Thomas Becker", "Carmen Ruiz", "Claire Martin",
    "Lukas Hoffmann", "Teresa García López", "Jean Paul Moreau",
    "Nora Lindqvist", "Miguel Ángel Romero", "Camille Laurent", "Nadia Haddad",
    "Paul Lefèvre", "Katrin Vogel", "Daniel Novak", "Julia Nowak",
    "Marco Bianchi", "Hannah Krüger", "Yusuf Demir", "Peter van Dijk",
    "Rosa María Vidal", "Sebastian Wolf", "Lea Fischer", "Diego Morales",
    "Chloé Bernard", "Fatou Diallo", "Kenji Tanaka", "Beatriz Santos",
)

# Organisations named without an article in all four languages, each starting
# with a consonant (French "de X" needs no elision). An entry is one name
# shared by all languages or a tuple of (en, de, es, fr) names.
ORGANISATIONS = (
    "Siemens", "Volkswagen", "Renault", "Nestlé", "Telefónica", "Michelin",
    "Bosch", "Philips", "Lufthansa", "Danone", "Deutsche Telekom",
    "Banco Santander", "Red Bull", "General Electric", "Rolls Royce",
    "Carrefour", "Puma", "Nokia", "Ferrero", "Bayer", "Peugeot", "Porsche",
    "Repsol", ("Munich Re", "Münchener Rück", "Munich Re", "Munich Re"),
)

# Cities as (en, de, es, fr). Each French name starts with a consonant, so
# "de X" and "à X" never need elision.
CITIES = (
    ("Berlin", "Berlin", "Berlín", "Berlin"), ("Paris", "Paris", "París", "Paris"),
    ("Madrid", "Madrid", "Madrid", "Madrid"), ("London", "London", "Londres", "Londres"),
    ("Munich", "München", "Múnich", "Munich"), ("Vienna", "Wien", "Viena", "Vienne"),
    ("Rome", "Rom", "Roma", "Rome"), ("Lisbon", "Lissabon", "Lisboa", "Lisbonne"),
    ("Geneva", "Genf", "Ginebra", "Genève"), ("Brussels", "Brüssel", "Bruselas", "Bruxelles"),
    ("Barcelona", "Barcelona", "Barcelona", "Barcelone"),
    ("Hamburg", "Hamburg", "Hamburgo", "Hambourg"), ("Cologne", "Köln", "Colonia", "Cologne"),
    ("Frankfurt", "Frankfurt", "Fráncfort", "Francfort"),
    ("Seville", "Sevilla", "Sevilla", "Séville"),
    ("Marseille", "Marseille", "Marsella", "Marseille"), ("Lyon", "Lyon", "Lyon", "Lyon"),
    ("Milan", "Mailand", "Milán", "Milan"), ("Warsaw", "Warschau", "Varsovia", "Varsovie"),
    ("Prague", "Prag", "Praga", "Prague"), ("Zurich", "Zürich", "Zúrich", "Zurich"),
    ("Valencia", "Valencia", "Valencia", "Valence"), ("Dresden", "Dresden", "Dresde", "Dresde"),
    ("New York", "New York", "Nueva York", "New York"),
    ("Buenos Aires", "Buenos Aires", "Buenos Aires", "Buenos Aires"),
    ("Los Angeles", "Los Angeles", "Los Ángeles", "Los Angeles"),
    ("Rio de Janeiro", "Rio de Janeiro", "Río de Janeiro", "Rio de Janeiro"),
    ("Saint Petersburg", "Sankt Petersburg", "San Petersburgo", "Saint-Pétersbourg"),
    ("Hong Kong", "Hongkong", "Hong Kong", "Hong Kong"),
    ("Mexico City", "Mexiko-Stadt", "Ciudad de México", "Mexico"),
)

# Countries as (en, de, es, fr), chosen so that no article is needed after a
# preposition: neuter in German ("in Schweden"), feminine in French
# ("en Suède"), used bare in Spanish ("en Suecia").
COUNTRIES = (
    ("Germany", "Deutschland", "Alemania", "Allemagne"),
    ("France", "Frankreich", "Francia", "France"), ("Spain", "Spanien", "España", "Espagne"),
    ("Italy", "Italien", "Italia", "Italie"), ("Austria", "Österreich", "Austria", "Autriche"),
    ("Poland", "Polen", "Polonia", "Pologne"), ("Sweden", "Schweden", "Suecia", "Suède"),
    ("Norway", "Norwegen", "Noruega", "Norvège"), ("Belgium", "Belgien", "Bélgica", "Belgique"),
    ("Ireland", "Irland", "Irlanda", "Irlande"), ("Greece", "Griechenland", "Grecia", "Grèce"),
    ("Hungary", "Ungarn", "Hungría", "Hongrie"), ("Croatia", "Kroatien", "Croacia", "Croatie"),
    ("Argentina", "Argentinien", "Argentina", "Argentine"),
    ("South Africa", "Südafrika", "Sudáfrica", "Afrique du Sud"),
    ("New Zealand", "Neuseeland", "Nueva Zelanda", "Nouvelle-Zélande"),
)

# --- NER templates ----------------------------------------------------------
# Slots: {PER} {PER2} {ORG} {ORG2} {CITY} {CITY2} {COUNTRY} {YEAR}. The
# templates avoid gendered forms (French "née", German "Direktorin"), because
# the person names are not marked for gender.
NER_TEMPLATES = {
    "en": (
        "{PER} moved to {CITY} in {YEAR} .",
        "{PER} works for {ORG} in {CITY} .",
        "{ORG} opened a new office in {CITY} last year .",
        "{PER} was born in {CITY} and grew up in {COUNTRY} .",
        "The company {ORG} is based in {CITY} .",
        "{PER} met {PER2} in {CITY} .",
        "{ORG} appointed {PER} to its board .",
        "According to {PER} , {ORG} will invest more in {COUNTRY} .",
        "{PER} spent three years in {COUNTRY} and then returned to {CITY} .",
        "The train from {CITY} to {CITY2} was two hours late .",
        "{PER} gave a talk on renewable energy in {CITY} .",
        "On Monday {ORG} announced a partnership with {ORG2} .",
        "Last summer {PER} travelled through {COUNTRY} by bike .",
        "{PER} has handled communications at {ORG} since {YEAR} .",
        "In {YEAR} , {ORG} built a factory near {CITY} .",
        "{PER} lives in {CITY} and teaches at a school .",
        "Many tourists visit {CITY} every spring .",
        "{PER} and {PER2} wrote a book about {COUNTRY} .",
        "{ORG} sold its shares to {ORG2} in {YEAR} .",
        "Yesterday the weather in {CITY} was cold and rainy .",
    ),
    "de": (
        "{PER} zog {YEAR} nach {CITY} .",
        "{PER} arbeitet für {ORG} in {CITY} .",
        "{ORG} eröffnete letztes Jahr ein neues Büro in {CITY} .",
        "{PER} wurde in {CITY} geboren und wuchs in {COUNTRY} auf .",
        "Das Unternehmen {ORG} hat seinen Sitz in {CITY} .",
        "{PER} traf {PER2} in {CITY} .",
        "{ORG} berief {PER} in den Vorstand .",
        "Laut {PER} wird {ORG} mehr in {COUNTRY} investieren .",
        "{PER} verbrachte drei Jahre in {COUNTRY} und kehrte dann nach {CITY} zurück .",
        "Der Zug von {CITY} nach {CITY2} hatte zwei Stunden Verspätung .",
        "{PER} hielt in {CITY} einen Vortrag über erneuerbare Energien .",
        "Am Montag gab {ORG} eine Partnerschaft mit {ORG2} bekannt .",
        "Letzten Sommer fuhr {PER} mit dem Fahrrad durch {COUNTRY} .",
        "{PER} leitet seit {YEAR} die Pressestelle von {ORG} .",
        "Im Jahr {YEAR} baute {ORG} eine Fabrik in der Nähe von {CITY} .",
        "{PER} lebt in {CITY} und unterrichtet an einer Schule .",
        "Jedes Frühjahr besuchen viele Touristen {CITY} .",
        "{PER} und {PER2} schrieben ein Buch über {COUNTRY} .",
        "{ORG} verkaufte {YEAR} Anteile an {ORG2} .",
        "Gestern war das Wetter in {CITY} kalt und regnerisch .",
    ),
    "es": (
        "{PER} se mudó a {CITY} en {YEAR} .",
        "{PER} trabaja para {ORG} en {CITY} .",
        "{ORG} abrió una nueva oficina en {CITY} el año pasado .",
        "{PER} nació en {CITY} y creció en {COUNTRY} .",
        "La empresa {ORG} tiene su sede en {CITY} .",
        "{PER} conoció a {PER2} en {CITY} .",
        "{ORG} nombró a {PER} miembro de su consejo .",
        "Según {PER} , {ORG} invertirá más en {COUNTRY} .",
        "{PER} pasó tres años en {COUNTRY} y después volvió a {CITY} .",
        "El tren de {CITY} a {CITY2} llegó con dos horas de retraso .",
        "{PER} dio una charla sobre energías renovables en {CITY} .",
        "El lunes {ORG} anunció una alianza con {ORG2} .",
        "El verano pasado {PER} recorrió {COUNTRY} en bicicleta .",
        "{PER} dirige la oficina de prensa de {ORG} desde {YEAR} .",
        "En {YEAR} , {ORG} construyó una fábrica cerca de {CITY} .",
        "{PER} vive en {CITY} y da clases en una escuela .",
        "Muchos turistas visitan {CITY} cada primavera .",
        "{PER} y {PER2} escribieron un libro sobre {COUNTRY} .",
        "{ORG} vendió sus acciones a {ORG2} en {YEAR} .",
        "Ayer el tiempo en {CITY} fue frío y lluvioso .",
    ),
    "fr": (
        "{PER} a déménagé à {CITY} en {YEAR} .",
        "{PER} travaille pour {ORG} à {CITY} .",
        "{ORG} a ouvert un nouveau bureau à {CITY} l'année dernière .",
        "{PER} a grandi en {COUNTRY} et vit aujourd'hui à {CITY} .",
        "L'entreprise {ORG} a son siège à {CITY} .",
        "{PER} a rencontré {PER2} à {CITY} .",
        "{ORG} a nommé {PER} à son conseil d'administration .",
        "Selon {PER} , {ORG} va investir davantage en {COUNTRY} .",
        "{PER} a passé trois ans en {COUNTRY} avant de revenir à {CITY} .",
        "Le train de {CITY} à {CITY2} avait deux heures de retard .",
        "{PER} a donné une conférence sur les énergies renouvelables à {CITY} .",
        "Lundi , {ORG} a annoncé un partenariat avec {ORG2} .",
        "L'été dernier , {PER} a voyagé à vélo en {COUNTRY} .",
        "{PER} s'occupe de la communication chez {ORG} depuis {YEAR} .",
        "En {YEAR} , {ORG} a construit une usine près de {CITY} .",
        "{PER} habite à {CITY} et enseigne dans une école .",
        "De nombreux touristes visitent {CITY} chaque printemps .",
        "{PER} et {PER2} ont écrit un livre sur la vie à {CITY} .",
        "{ORG} a vendu ses parts à {ORG2} en {YEAR} .",
        "Hier , il faisait froid et il pleuvait à {CITY} .",
    ),
}

# --- PAWS-X relations -------------------------------------------------------
# Each relation is (kind of {A} and {B}, forms per language). All forms of a
# relation mean the same thing; swapping {A} and {B} changes the meaning.
# Extra slots: {Y} a year, {P} a person, {O} an organisation.
PAWS_RELATIONS = (
    ("per", {
        "en": ("{A} visited {B} in {Y} .", "In {Y} , {A} visited {B} .",
               "In {Y} , {B} received a visit from {A} ."),
        "de": ("{A} besuchte {B} im Jahr {Y} .", "Im Jahr {Y} besuchte {A} {B} .",
               "Im Jahr {Y} bekam {B} Besuch von {A} ."),
        "es": ("{A} visitó a {B} en {Y} .", "En {Y} , {A} visitó a {B} .",
               "En {Y} , {B} recibió la visita de {A} ."),
        "fr": ("{A} a rendu visite à {B} en {Y} .", "En {Y} , {A} a rendu visite à {B} .",
               "En {Y} , {B} a reçu la visite de {A} ."),
    }),
    ("per", {
        "en": ("{A} sent a letter to {B} in {Y} .", "In {Y} , {A} sent {B} a letter .",
               "In {Y} , {B} received a letter from {A} ."),
        "de": ("{A} schickte {B} im Jahr {Y} einen Brief .",
               "Im Jahr {Y} schickte {A} einen Brief an {B} .",
               "Im Jahr {Y} erhielt {B} einen Brief von {A} ."),
        "es": ("{A} envió una carta a {B} en {Y} .", "En {Y} , {A} le envió una carta a {B} .",
               "En {Y} , {B} recibió una carta de {A} ."),
        "fr": ("{A} a envoyé une lettre à {B} en {Y} .",
               "En {Y} , {A} a adressé une lettre à {B} .",
               "En {Y} , {B} a reçu une lettre de {A} ."),
    }),
    ("per", {
        "en": ("{A} lent {B} money in {Y} .", "In {Y} , {A} lent money to {B} .",
               "In {Y} , {B} borrowed money from {A} ."),
        "de": ("{A} lieh {B} im Jahr {Y} Geld .", "Im Jahr {Y} lieh {A} Geld an {B} .",
               "Im Jahr {Y} lieh sich {B} Geld von {A} ."),
        "es": ("{A} le prestó dinero a {B} en {Y} .", "En {Y} , {A} prestó dinero a {B} .",
               "En {Y} , {B} pidió dinero prestado a {A} ."),
        "fr": ("{A} a prêté de l'argent à {B} en {Y} .",
               "En {Y} , {A} a prêté de l'argent à {B} .",
               "En {Y} , {B} a emprunté de l'argent à {A} ."),
    }),
    ("per", {
        "en": ("{A} taught {B} to play the piano .", "{B} learned to play the piano from {A} .",
               "{B} took piano lessons from {A} ."),
        "de": ("{A} brachte {B} das Klavierspielen bei .",
               "{B} lernte das Klavierspielen bei {A} .",
               "{B} nahm Klavierunterricht bei {A} ."),
        "es": ("{A} enseñó a {B} a tocar el piano .", "{B} aprendió a tocar el piano con {A} .",
               "{B} recibió clases de piano de {A} ."),
        "fr": ("{A} a appris à {B} à jouer du piano .",
               "{B} a appris à jouer du piano avec {A} .",
               "{B} a pris des cours de piano avec {A} ."),
    }),
    ("per", {
        "en": ("In {Y} , {A} replaced {B} as head of {O} .",
               "{A} succeeded {B} as head of {O} in {Y} .",
               "In {Y} , {A} took over from {B} as head of {O} ."),
        "de": ("Im Jahr {Y} löste {A} {B} an der Spitze von {O} ab .",
               "{A} folgte {B} im Jahr {Y} an der Spitze von {O} nach .",
               "Im Jahr {Y} übernahm {A} von {B} die Leitung von {O} ."),
        "es": ("En {Y} , {A} sustituyó a {B} al frente de {O} .",
               "{A} sucedió a {B} al frente de {O} en {Y} .",
               "En {Y} , {A} relevó a {B} al frente de {O} ."),
        "fr": ("En {Y} , {A} a remplacé {B} à la tête de {O} .",
               "{A} a succédé à {B} à la tête de {O} en {Y} .",
               "En {Y} , {A} a pris la relève de {B} à la tête de {O} ."),
    }),
    ("per", {
        "en": ("{A} beat {B} in the chess final .", "{B} lost the chess final to {A} .",
               "In the chess final , {A} defeated {B} ."),
        "de": ("{A} besiegte {B} im Schachfinale .", "{B} verlor das Schachfinale gegen {A} .",
               "Im Schachfinale gewann {A} gegen {B} ."),
        "es": ("{A} venció a {B} en la final de ajedrez .",
               "{B} perdió la final de ajedrez contra {A} .",
               "En la final de ajedrez , {A} ganó a {B} ."),
        "fr": ("{A} a battu {B} en finale du tournoi d'échecs .",
               "{B} a perdu contre {A} en finale du tournoi d'échecs .",
               "En finale du tournoi d'échecs , {A} a gagné contre {B} ."),
    }),
    ("org", {
        "en": ("{A} bought {B} in {Y} .", "In {Y} , {A} bought {B} .",
               "In {Y} , {B} was bought by {A} ."),
        "de": ("{A} übernahm {B} im Jahr {Y} .",
               "Im Jahr {Y} übernahm {A} das Unternehmen {B} .",
               "Das Unternehmen {B} wurde im Jahr {Y} von {A} übernommen ."),
        "es": ("{A} compró la empresa {B} en {Y} .", "En {Y} , {A} compró la empresa {B} .",
               "La empresa {B} fue comprada por {A} en {Y} ."),
        "fr": ("{A} a racheté {B} en {Y} .", "En {Y} , {A} a racheté l'entreprise {B} .",
               "L'entreprise {B} a été rachetée par {A} en {Y} ."),
    }),
    ("org", {
        "en": ("{A} supplies parts to {B} .", "{B} buys its parts from {A} .",
               "{B} gets its parts from {A} ."),
        "de": ("{A} liefert Bauteile an {B} .", "{B} kauft Bauteile bei {A} .",
               "{B} bezieht Bauteile von {A} ."),
        "es": ("{A} suministra piezas a {B} .", "{B} compra sus piezas a {A} .",
               "{B} recibe sus piezas de {A} ."),
        "fr": ("{A} fournit des pièces à {B} .", "{B} achète ses pièces à {A} .",
               "{B} reçoit ses pièces de {A} ."),
    }),
    ("city", {
        "en": ("{P} moved from {A} to {B} in {Y} .", "In {Y} , {P} left {A} and moved to {B} .",
               "In {Y} , {P} left {A} for {B} ."),
        "de": ("{P} zog im Jahr {Y} von {A} nach {B} .",
               "Im Jahr {Y} verließ {P} {A} und zog nach {B} .",
               "Im Jahr {Y} zog {P} von {A} nach {B} um ."),
        "es": ("{P} se mudó de {A} a {B} en {Y} .", "En {Y} , {P} dejó {A} y se mudó a {B} .",
               "En {Y} , {P} cambió {A} por {B} ."),
        "fr": ("{P} a déménagé de {A} à {B} en {Y} .",
               "En {Y} , {P} a quitté {A} pour s'installer à {B} .",
               "En {Y} , {P} a quitté {A} pour {B} ."),
    }),
    ("city", {
        "en": ("The train from {A} to {B} leaves at nine .",
               "At nine , the train leaves {A} for {B} .",
               "The nine o'clock train goes from {A} to {B} ."),
        "de": ("Der Zug von {A} nach {B} fährt um neun Uhr ab .",
               "Um neun Uhr fährt der Zug von {A} nach {B} ab .",
               "Der Zug um neun Uhr fährt von {A} nach {B} ."),
        "es": ("El tren de {A} a {B} sale a las nueve .",
               "A las nueve sale el tren de {A} con destino a {B} .",
               "El tren de las nueve va de {A} a {B} ."),
        "fr": ("Le train de {A} à {B} part à neuf heures .",
               "À neuf heures , le train part de {A} pour {B} .",
               "Le train de neuf heures va de {A} à {B} ."),
    }),
)

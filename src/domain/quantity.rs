//! Quantities and units (DESIGN section 4).
//!
//! Every physical value in the API is `{"value": <number>, "unit": "<symbol>"}`. This module turns
//! the symbol a client wrote into a [`Unit`]: its dimension (exponents of the seven SI base
//! quantities), the SI value of one unit, and — only for a bare `°C`/`°F` — the kelvin value of
//! the unit's zero.
//!
//! Why a runtime dimension algebra on top of uom: uom fixes a quantity's dimension in the type at
//! compile time, which is exactly right inside a calculation, but an uncertainty budget's
//! sensitivity coefficient arrives as text at run time (`nm/K`, `kPa/V`, `J/(kg*K)`) and its
//! dimension is only known once the text is read. So the catalogue below takes every conversion
//! factor, symbol and base dimension from uom, and [`Dimension`] combines them at run time;
//! [`Quantity::as_pressure`] and friends hand a value back to uom's compile-time types once its
//! dimension has been checked.

use std::fmt;
use std::sync::OnceLock;

use uom::typenum::Integer;
use uom::Conversion;

use super::FieldError;

/// Longest unit symbol accepted. The longest real unit a calibration lab writes
/// (`µmol/(m²·s)`, `J/(kg*K)`) is far below this; anything longer is junk and is refused before
/// any parsing work is done.
pub const MAX_SYMBOL_CHARS: usize = 64;

// ---------------------------------------------------------------------------------------------
// Dimension
// ---------------------------------------------------------------------------------------------

/// Exponents of the seven SI base dimensions, in the order [L, M, T, I, Θ, N, J].
///
/// Aligned to 8 bytes so that a copy is one move: the unit checker of a model passes a
/// dimension with every value, and seven byte moves stalled its loads (issue 17 profile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(align(8))]
pub struct Dimension(pub [i8; 7]);

/// Coherent SI base units in the order of [`Dimension`]'s exponents (SI Brochure table 2).
const BASE_UNIT_SYMBOLS: [&str; 7] = ["m", "kg", "s", "A", "K", "mol", "cd"];

impl Dimension {
    pub const DIMENSIONLESS: Dimension = Dimension([0; 7]);

    /// The dimension uom assigns to one of its quantities, e.g.
    /// `Dimension::of_uom::<uom::si::pressure::Dimension>()`.
    pub fn of_uom<D: uom::si::Dimension + ?Sized>() -> Dimension {
        Dimension([
            <D::L as Integer>::I8,
            <D::M as Integer>::I8,
            <D::T as Integer>::I8,
            <D::I as Integer>::I8,
            <D::Th as Integer>::I8,
            <D::N as Integer>::I8,
            <D::J as Integer>::I8,
        ])
    }

    /// Dimension of a product of quantities: exponents add. `None` on i8 overflow.
    pub fn checked_mul(self, other: Dimension) -> Option<Dimension> {
        let mut out = [0i8; 7];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = self.0[i].checked_add(other.0[i])?;
        }
        Some(Dimension(out))
    }

    /// Dimension of a quotient of quantities: exponents subtract. `None` on i8 overflow.
    pub fn checked_div(self, other: Dimension) -> Option<Dimension> {
        let mut out = [0i8; 7];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = self.0[i].checked_sub(other.0[i])?;
        }
        Some(Dimension(out))
    }

    /// Dimension of a power of a quantity: exponents multiply. `None` on overflow.
    pub fn checked_powi(self, n: i32) -> Option<Dimension> {
        let mut out = [0i8; 7];
        for (i, slot) in out.iter_mut().enumerate() {
            let e = i32::from(self.0[i]).checked_mul(n)?;
            *slot = i8::try_from(e).ok()?;
        }
        Some(Dimension(out))
    }

    /// A quantity of dimension one (VIM 1.8): ratios, relative humidity, `ppm`.
    pub fn is_dimensionless(&self) -> bool {
        self.0.iter().all(|&e| e == 0)
    }

    /// The dimension written as a product of SI base units, numerator first
    /// (`kg·m⁻¹·s⁻²`, `m·K⁻¹`; `1` for dimension one).
    pub fn si_form(&self) -> String {
        if self.is_dimensionless() {
            return "1".to_string();
        }
        let positive = (0..7).filter(|&i| self.0[i] > 0);
        let negative = (0..7).filter(|&i| self.0[i] < 0);
        positive
            .chain(negative)
            .map(|i| {
                let e = self.0[i];
                if e == 1 {
                    BASE_UNIT_SYMBOLS[i].to_string()
                } else {
                    format!("{}{}", BASE_UNIT_SYMBOLS[i], superscript(e))
                }
            })
            .collect::<Vec<_>>()
            .join("·")
    }

    /// The catalogued quantity kinds of this dimension, in the order a metrologist would name
    /// them first (energy before torque). Relative humidity is never named here: it is a
    /// dimension-one quantity told apart only by its symbol `%RH`.
    pub fn kinds(&self) -> Vec<QuantityKind> {
        QuantityKind::all()
            .iter()
            .copied()
            .filter(|k| *k != QuantityKind::RelativeHumidity && k.dimension() == *self)
            .collect()
    }

    /// Human text for error messages: the kind name when catalogued plus the SI form,
    /// e.g. "pressure (kg·m⁻¹·s⁻²)", "length (m)", "m·K⁻¹", "dimensionless (1)".
    pub fn describe(&self) -> String {
        let kinds = self.kinds();
        if kinds.is_empty() {
            return self.si_form();
        }
        let names: Vec<String> = kinds.iter().map(|k| k.name().replace('_', " ")).collect();
        format!("{} ({})", names.join(" or "), self.si_form())
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.si_form())
    }
}

fn superscript(e: i8) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut out = String::new();
    if e < 0 {
        out.push('⁻');
    }
    for d in i16::from(e).unsigned_abs().to_string().bytes() {
        out.push(DIGITS[usize::from(d - b'0')]);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Quantity kinds
// ---------------------------------------------------------------------------------------------

/// The quantity kinds an instrument can measure; serde names snake_case ("pressure", "electric_current").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantityKind {
    Length,
    Mass,
    Time,
    ElectricCurrent,
    Temperature,
    AmountOfSubstance,
    LuminousIntensity,
    Frequency,
    Force,
    Pressure,
    Energy,
    Power,
    ElectricCharge,
    Voltage,
    Capacitance,
    Resistance,
    Conductance,
    MagneticFlux,
    MagneticFluxDensity,
    Inductance,
    Volume,
    Area,
    Velocity,
    Acceleration,
    Torque,
    RelativeHumidity,
    Dimensionless,
}

impl QuantityKind {
    /// Dimension of the kind, as uom types it.
    pub fn dimension(&self) -> Dimension {
        use uom::si;
        use QuantityKind::*;
        match self {
            Length => Dimension::of_uom::<si::length::Dimension>(),
            Mass => Dimension::of_uom::<si::mass::Dimension>(),
            Time => Dimension::of_uom::<si::time::Dimension>(),
            ElectricCurrent => Dimension::of_uom::<si::electric_current::Dimension>(),
            Temperature => Dimension::of_uom::<si::thermodynamic_temperature::Dimension>(),
            AmountOfSubstance => Dimension::of_uom::<si::amount_of_substance::Dimension>(),
            LuminousIntensity => Dimension::of_uom::<si::luminous_intensity::Dimension>(),
            Frequency => Dimension::of_uom::<si::frequency::Dimension>(),
            Force => Dimension::of_uom::<si::force::Dimension>(),
            Pressure => Dimension::of_uom::<si::pressure::Dimension>(),
            Energy => Dimension::of_uom::<si::energy::Dimension>(),
            Power => Dimension::of_uom::<si::power::Dimension>(),
            ElectricCharge => Dimension::of_uom::<si::electric_charge::Dimension>(),
            Voltage => Dimension::of_uom::<si::electric_potential::Dimension>(),
            Capacitance => Dimension::of_uom::<si::capacitance::Dimension>(),
            Resistance => Dimension::of_uom::<si::electrical_resistance::Dimension>(),
            Conductance => Dimension::of_uom::<si::electrical_conductance::Dimension>(),
            MagneticFlux => Dimension::of_uom::<si::magnetic_flux::Dimension>(),
            MagneticFluxDensity => Dimension::of_uom::<si::magnetic_flux_density::Dimension>(),
            Inductance => Dimension::of_uom::<si::inductance::Dimension>(),
            Volume => Dimension::of_uom::<si::volume::Dimension>(),
            Area => Dimension::of_uom::<si::area::Dimension>(),
            Velocity => Dimension::of_uom::<si::velocity::Dimension>(),
            Acceleration => Dimension::of_uom::<si::acceleration::Dimension>(),
            Torque => Dimension::of_uom::<si::torque::Dimension>(),
            RelativeHumidity | Dimensionless => Dimension::of_uom::<si::ratio::Dimension>(),
        }
    }

    /// (English, Chinese) names of a kind given by its snake_case name, as the
    /// certificates print it in both languages ("pressure", "压力"); an unknown
    /// name is given back in English for both.
    pub fn names_in_words(name: &str) -> (String, String) {
        let english = name.replace('_', " ");
        let chinese = match name {
            "length" => "长度",
            "mass" => "质量",
            "time" => "时间",
            "electric_current" => "电流",
            "temperature" => "温度",
            "amount_of_substance" => "物质的量",
            "luminous_intensity" => "发光强度",
            "frequency" => "频率",
            "force" => "力",
            "pressure" => "压力",
            "energy" => "能量",
            "power" => "功率",
            "electric_charge" => "电荷",
            "voltage" => "电压",
            "capacitance" => "电容",
            "resistance" => "电阻",
            "conductance" => "电导",
            "magnetic_flux" => "磁通量",
            "magnetic_flux_density" => "磁通密度",
            "inductance" => "电感",
            "volume" => "体积",
            "area" => "面积",
            "velocity" => "速度",
            "acceleration" => "加速度",
            "torque" => "扭矩",
            "relative_humidity" => "相对湿度",
            "dimensionless" => "量纲一的量",
            _ => return (english.clone(), english),
        };
        (english, chinese.to_string())
    }

    /// The snake_case name, as serde writes it.
    pub fn name(&self) -> &'static str {
        use QuantityKind::*;
        match self {
            Length => "length",
            Mass => "mass",
            Time => "time",
            ElectricCurrent => "electric_current",
            Temperature => "temperature",
            AmountOfSubstance => "amount_of_substance",
            LuminousIntensity => "luminous_intensity",
            Frequency => "frequency",
            Force => "force",
            Pressure => "pressure",
            Energy => "energy",
            Power => "power",
            ElectricCharge => "electric_charge",
            Voltage => "voltage",
            Capacitance => "capacitance",
            Resistance => "resistance",
            Conductance => "conductance",
            MagneticFlux => "magnetic_flux",
            MagneticFluxDensity => "magnetic_flux_density",
            Inductance => "inductance",
            Volume => "volume",
            Area => "area",
            Velocity => "velocity",
            Acceleration => "acceleration",
            Torque => "torque",
            RelativeHumidity => "relative_humidity",
            Dimensionless => "dimensionless",
        }
    }

    pub fn from_name(name: &str) -> Option<QuantityKind> {
        QuantityKind::all()
            .iter()
            .copied()
            .find(|k| k.name() == name)
    }

    pub fn all() -> &'static [QuantityKind] {
        use QuantityKind::*;
        &[
            Length,
            Mass,
            Time,
            ElectricCurrent,
            Temperature,
            AmountOfSubstance,
            LuminousIntensity,
            Frequency,
            Force,
            Pressure,
            Energy,
            Power,
            ElectricCharge,
            Voltage,
            Capacitance,
            Resistance,
            Conductance,
            MagneticFlux,
            MagneticFluxDensity,
            Inductance,
            Volume,
            Area,
            Velocity,
            Acceleration,
            Torque,
            RelativeHumidity,
            Dimensionless,
        ]
    }

    /// The usual kind of a dimension: where two kinds share one (energy and torque, both
    /// kg·m²·s⁻²; relative humidity and any other ratio) the first, more general one.
    pub fn for_dimension(dimension: Dimension) -> Option<QuantityKind> {
        dimension.kinds().first().copied()
    }
}

impl fmt::Display for QuantityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---------------------------------------------------------------------------------------------
// Catalogue
// ---------------------------------------------------------------------------------------------

/// One unit a client may write by name (before any prefix or compounding).
#[derive(Debug)]
struct CatalogueUnit {
    /// The symbol uom prints for it (or ours, where uom has none); first thing matched.
    symbol: &'static str,
    /// Further spellings seen in the field: ASCII for the keyboard, Unicode look-alikes, the
    /// single-character `℃` of Chinese input methods.
    aliases: &'static [&'static str],
    dimension: Dimension,
    /// SI value of one unit as an interval.
    factor: f64,
    /// Kelvin value of the unit's zero (only °C and °F have one).
    offset: f64,
    /// Whether an SI prefix may be put in front (SI Brochure 3: SI units, plus bar and litre).
    prefixable: bool,
}

impl CatalogueUnit {
    /// The uom symbol first, then the aliases (an alias that uom already uses as its symbol,
    /// such as `°C` or `Ω`, is listed once).
    fn spellings(&self) -> impl Iterator<Item = &'static str> + '_ {
        let symbol = self.symbol;
        std::iter::once(symbol).chain(self.aliases.iter().copied().filter(move |a| *a != symbol))
    }
}

/// A catalogue entry for a uom unit: symbol, base dimension and factor as uom has them, so no
/// conversion factor is typed by hand here.
macro_rules! from_uom {
    ($quantity:ident :: $unit:ident, $aliases:expr, prefixable: $prefixable:expr) => {{
        use uom::si::$quantity as q;
        CatalogueUnit {
            symbol: <q::$unit as uom::si::Unit>::abbreviation(),
            aliases: $aliases,
            dimension: Dimension::of_uom::<q::Dimension>(),
            factor: <q::$unit as Conversion<f64>>::coefficient(),
            offset: 0.0,
            prefixable: $prefixable,
        }
    }};
}

/// An affine temperature scale: uom converts a point as (v + constant)·coefficient, so the kelvin
/// value of the scale's zero is constant·coefficient.
macro_rules! temperature_scale_from_uom {
    ($unit:ident, $aliases:expr) => {{
        use uom::si::thermodynamic_temperature as q;
        let coefficient = <q::$unit as Conversion<f64>>::coefficient();
        CatalogueUnit {
            symbol: <q::$unit as uom::si::Unit>::abbreviation(),
            aliases: $aliases,
            dimension: Dimension::of_uom::<q::Dimension>(),
            factor: coefficient,
            offset: <q::$unit as Conversion<f64>>::constant(uom::ConstantOp::Add) * coefficient,
            prefixable: false,
        }
    }};
}

/// The pound (avoirdupois) in kilograms, exact by the 1959 international yard and pound
/// agreement. Typed here because uom 0.38 rounds both `pound` (0.453 592 4 kg) and `pound_force`
/// (4.448 222 N) to seven digits, which puts its psi 8.6·10⁻⁸ high (6894.757 889 Pa instead of
/// 6894.757 293 Pa): a bias no certificate should carry in a defined conversion.
const POUND_IN_KILOGRAMS: f64 = 0.453_592_37;

fn catalogue() -> &'static [CatalogueUnit] {
    static CATALOGUE: OnceLock<Vec<CatalogueUnit>> = OnceLock::new();
    CATALOGUE.get_or_init(build_catalogue)
}

fn build_catalogue() -> Vec<CatalogueUnit> {
    use uom::si::{acceleration, length, ratio};

    // psi = lbf/in², lbf = lb · g₀ (standard acceleration of gravity, exact in uom).
    let standard_gravity = <acceleration::standard_gravity as Conversion<f64>>::coefficient();
    let inch = <length::inch as Conversion<f64>>::coefficient();
    let psi = POUND_IN_KILOGRAMS * standard_gravity / (inch * inch);
    let percent = <ratio::percent as Conversion<f64>>::coefficient();

    vec![
        // SI base units. Mass prefixes go on the gram (SI Brochure 3); uom's gram coefficient is
        // already in kilograms (1e-3), so `kg` comes out as exactly 1.
        from_uom!(length::meter, &[], prefixable: true),
        from_uom!(mass::gram, &[], prefixable: true),
        from_uom!(time::second, &[], prefixable: true),
        from_uom!(electric_current::ampere, &[], prefixable: true),
        from_uom!(thermodynamic_temperature::kelvin, &[], prefixable: true),
        from_uom!(amount_of_substance::mole, &[], prefixable: true),
        from_uom!(luminous_intensity::candela, &[], prefixable: true),
        // SI derived units with special names.
        from_uom!(frequency::hertz, &[], prefixable: true),
        from_uom!(force::newton, &[], prefixable: true),
        from_uom!(pressure::pascal, &[], prefixable: true),
        from_uom!(energy::joule, &[], prefixable: true),
        from_uom!(power::watt, &[], prefixable: true),
        from_uom!(electric_charge::coulomb, &[], prefixable: true),
        from_uom!(electric_potential::volt, &[], prefixable: true),
        from_uom!(capacitance::farad, &[], prefixable: true),
        from_uom!(
            electrical_resistance::ohm,
            &["ohm", "\u{03A9}", "\u{2126}"],
            prefixable: true
        ),
        from_uom!(electrical_conductance::siemens, &[], prefixable: true),
        from_uom!(magnetic_flux::weber, &[], prefixable: true),
        from_uom!(magnetic_flux_density::tesla, &[], prefixable: true),
        from_uom!(inductance::henry, &[], prefixable: true),
        // Units accepted for use with the SI, and prefixed the way a metrologist writes them
        // (mbar on a barometer, mL on a pipette).
        from_uom!(pressure::bar, &[], prefixable: true),
        from_uom!(volume::liter, &[], prefixable: true),
        from_uom!(time::minute, &[], prefixable: false),
        from_uom!(time::hour, &[], prefixable: false),
        // Temperature scales: a Celsius temperature is t = T − 273.15 K, but a difference has the
        // same value in °C and in K (SI Brochure 2.3.4), hence an offset used only for points.
        temperature_scale_from_uom!(degree_celsius, &["degC", "°C", "\u{2103}"]),
        temperature_scale_from_uom!(degree_fahrenheit, &["degF", "°F"]),
        CatalogueUnit {
            symbol: "psi",
            aliases: &[],
            dimension: Dimension::of_uom::<uom::si::pressure::Dimension>(),
            factor: psi,
            offset: 0.0,
            prefixable: false,
        },
        // Relative humidity is a ratio of vapour pressures expressed in percent; uom has no unit
        // of its own for it, so it takes uom's percent and keeps its own symbol.
        CatalogueUnit {
            symbol: "%RH",
            aliases: &[],
            dimension: Dimension::of_uom::<ratio::Dimension>(),
            factor: percent,
            offset: 0.0,
            prefixable: false,
        },
        from_uom!(ratio::part_per_million, &[], prefixable: false),
        from_uom!(ratio::percent, &[], prefixable: false),
    ]
}

/// SI prefixes (SI Brochure table 7) with every spelling of each. Micro is written `u` on plain
/// keyboards, `µ` (micro sign) or `μ` (Greek mu) elsewhere; all three mean 10⁻⁶.
fn prefixes() -> &'static [(&'static str, f64)] {
    // ronna, quetta, ronto and quecto were added by the 27th CGPM (2022); uom 0.38 has no
    // prefix for them, hence the literals.
    static PREFIXES: OnceLock<Vec<(&'static str, f64)>> = OnceLock::new();
    PREFIXES.get_or_init(|| {
        vec![
            ("Q", 1.0e30),
            ("R", 1.0e27),
            ("Y", uom::prefix!(yotta)),
            ("Z", uom::prefix!(zetta)),
            ("E", uom::prefix!(exa)),
            ("P", uom::prefix!(peta)),
            ("T", uom::prefix!(tera)),
            ("G", uom::prefix!(giga)),
            ("M", uom::prefix!(mega)),
            ("k", uom::prefix!(kilo)),
            ("h", uom::prefix!(hecto)),
            // Two letters: tried before `d` so that `dam` is the decametre.
            ("da", uom::prefix!(deca)),
            ("d", uom::prefix!(deci)),
            ("c", uom::prefix!(centi)),
            ("m", uom::prefix!(milli)),
            ("u", uom::prefix!(micro)),
            ("\u{00B5}", uom::prefix!(micro)),
            ("\u{03BC}", uom::prefix!(micro)),
            ("n", uom::prefix!(nano)),
            ("p", uom::prefix!(pico)),
            ("f", uom::prefix!(femto)),
            ("a", uom::prefix!(atto)),
            ("z", uom::prefix!(zepto)),
            ("y", uom::prefix!(yocto)),
            ("r", 1.0e-27),
            ("q", 1.0e-30),
        ]
    })
}

/// A single unit symbol, possibly prefixed, resolved against the catalogue.
struct Atom {
    unit: &'static CatalogueUnit,
    prefix: f64,
}

/// Looks one symbol up. An exact catalogue symbol wins over any prefix split, so `cd` is the
/// candela (not centi-day), `Pa` the pascal, `min` the minute, `T` the tesla, `h` the hour;
/// only when no exact symbol matches is the first character(s) read as a prefix (`mm`, `mK`,
/// `hPa`). Prefixes never stack (`mkg` is refused: SI Brochure 3 forbids compound prefixes).
/// Every spelling of every catalogued unit, for constant-time look-up: units
/// are parsed for every quantity of every ingested point.
fn spellings() -> &'static std::collections::HashMap<&'static str, &'static CatalogueUnit> {
    static SPELLINGS: OnceLock<std::collections::HashMap<&'static str, &'static CatalogueUnit>> =
        OnceLock::new();
    SPELLINGS.get_or_init(|| {
        let mut map = std::collections::HashMap::new();
        for unit in catalogue() {
            for spelling in unit.spellings() {
                map.entry(spelling).or_insert(unit);
            }
        }
        map
    })
}

fn lookup_atom(text: &str) -> Result<Atom, UnitError> {
    let spellings = spellings();
    if let Some(unit) = spellings.get(text) {
        return Ok(Atom { unit, prefix: 1.0 });
    }
    for &(prefix, scale) in prefixes() {
        let Some(rest) = text.strip_prefix(prefix) else {
            continue;
        };
        if let Some(unit) = spellings.get(rest).filter(|u| u.prefixable) {
            return Ok(Atom {
                unit,
                prefix: scale,
            });
        }
    }
    Err(UnitError::UnknownSymbol(text.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Unit
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    /// Exactly as the client wrote it (responses echo it).
    pub symbol: String,
    pub dimension: Dimension,
    /// SI value of one unit as an interval: mm -> 1e-3, degF -> 5/9, %RH -> 0.01.
    pub factor: f64,
    /// Only for a bare degC/degF: kelvin of the unit's zero (273.15, 459.67*5/9); else 0.
    pub offset: f64,
}

impl Unit {
    /// The unit one of a quantity of dimension one (VIM 1.8), written `1`: the unit of the
    /// default sensitivity coefficient c = 1 (GUM 5.1.3).
    pub fn one() -> Unit {
        Unit {
            symbol: "1".to_string(),
            dimension: Dimension::DIMENSIONLESS,
            factor: 1.0,
            offset: 0.0,
        }
    }

    /// True only for a bare degC/°C/℃/degF/°F: the only units whose zero is not the SI zero.
    pub fn is_affine(&self) -> bool {
        self.offset != 0.0
    }

    /// SI value of a value read on this unit's scale: 20 °C -> 293.15 K.
    pub fn point_to_si(&self, v: f64) -> f64 {
        v * self.factor + self.offset
    }

    pub fn point_from_si(&self, si: f64) -> f64 {
        (si - self.offset) / self.factor
    }

    /// SI value of a difference, tolerance, error or uncertainty in this unit. A temperature
    /// interval has no offset: 0.5 °C of uncertainty is 0.5 K, never 273.65 K.
    pub fn interval_to_si(&self, v: f64) -> f64 {
        v * self.factor
    }

    pub fn interval_from_si(&self, si: f64) -> f64 {
        si / self.factor
    }

    /// Whether values in the two units can be compared or added (same dimension).
    pub fn is_commensurable_with(&self, other: &Unit) -> bool {
        self.dimension == other.dimension
    }

    /// The kind of quantity this unit measures, from its dimension. Where kinds share a
    /// dimension the usual one is chosen, except that a bare `%RH` is relative humidity and a
    /// product of a force and a length unit (`N*m`, `N·m`, `cN·m`) is torque: a torque
    /// wrench is calibrated in N·m, never in joules (SI Brochure 2.3.4).
    pub fn quantity_kind(&self) -> Option<QuantityKind> {
        let written = self.symbol.trim();
        if self.dimension.is_dimensionless() {
            return Some(if written == "%RH" {
                QuantityKind::RelativeHumidity
            } else {
                QuantityKind::Dimensionless
            });
        }
        if self.dimension == QuantityKind::Torque.dimension() && is_force_times_length(written) {
            return Some(QuantityKind::Torque);
        }
        QuantityKind::for_dimension(self.dimension)
    }
}

fn is_force_times_length(written: &str) -> bool {
    let parts: Vec<&str> = written.split(['*', '·', '⋅']).map(str::trim).collect();
    let [a, b] = parts.as_slice() else {
        return false;
    };
    let (Ok(a), Ok(b)) = (lookup_atom(a), lookup_atom(b)) else {
        return false;
    };
    let force = QuantityKind::Force.dimension();
    let length = QuantityKind::Length.dimension();
    (a.unit.dimension == force && b.unit.dimension == length)
        || (a.unit.dimension == length && b.unit.dimension == force)
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.symbol)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum UnitError {
    Empty,
    UnknownSymbol(String),
    Malformed(String),
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnitError::Empty => f.write_str("unit symbol is empty"),
            UnitError::UnknownSymbol(s) => write!(f, "unknown unit symbol '{s}'"),
            UnitError::Malformed(why) => write!(f, "malformed unit: {why}"),
        }
    }
}

impl std::error::Error for UnitError {}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Symbol(String),
    One,
    Times,
    Per,
    Open,
    Close,
    Power(i32),
}

fn malformed(why: impl Into<String>) -> UnitError {
    UnitError::Malformed(why.into())
}

fn is_symbol_char(c: char) -> bool {
    c.is_alphabetic() || matches!(c, '%' | '°' | '\u{2103}')
}

fn superscript_digit(c: char) -> Option<u32> {
    match c {
        '⁰' => Some(0),
        '¹' => Some(1),
        '²' => Some(2),
        '³' => Some(3),
        '⁴' => Some(4),
        '⁵' => Some(5),
        '⁶' => Some(6),
        '⁷' => Some(7),
        '⁸' => Some(8),
        '⁹' => Some(9),
        _ => None,
    }
}

/// Reads an exponent: an optional sign, then at least one digit as `digit` reads them.
fn read_exponent(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    is_minus: impl Fn(char) -> bool,
    is_plus: impl Fn(char) -> bool,
    digit: impl Fn(char) -> Option<u32>,
) -> Result<i32, UnitError> {
    let mut negative = false;
    if let Some(&c) = chars.peek() {
        if is_minus(c) {
            negative = true;
            chars.next();
        } else if is_plus(c) {
            chars.next();
        }
    }
    let mut magnitude: i32 = 0;
    let mut any = false;
    while let Some(d) = chars.peek().and_then(|&c| digit(c)) {
        chars.next();
        any = true;
        magnitude = magnitude
            .checked_mul(10)
            .and_then(|m| m.checked_add(d as i32))
            .ok_or_else(|| malformed("exponent out of range"))?;
    }
    if !any {
        return Err(malformed("an exponent needs digits"));
    }
    let n = if negative { -magnitude } else { magnitude };
    if i8::try_from(n).is_err() {
        return Err(malformed(format!("exponent {n} out of range")));
    }
    if n == 0 {
        return Err(malformed("exponent 0"));
    }
    Ok(n)
}

fn tokenize(text: &str) -> Result<Vec<Token>, UnitError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if matches!(c, '*' | '·' | '⋅') {
            chars.next();
            tokens.push(Token::Times);
        } else if c == '/' {
            chars.next();
            tokens.push(Token::Per);
        } else if c == '(' {
            chars.next();
            tokens.push(Token::Open);
        } else if c == ')' {
            chars.next();
            tokens.push(Token::Close);
        } else if c == '^' {
            chars.next();
            let n = read_exponent(
                &mut chars,
                |c| c == '-' || c == '\u{2212}',
                |c| c == '+',
                |c| c.to_digit(10),
            )?;
            tokens.push(Token::Power(n));
        } else if c == '⁻' || c == '⁺' || superscript_digit(c).is_some() {
            let n = read_exponent(&mut chars, |c| c == '⁻', |c| c == '⁺', superscript_digit)?;
            tokens.push(Token::Power(n));
        } else if c.is_ascii_digit() {
            let mut number = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                number.push(d);
                chars.next();
            }
            if number != "1" {
                return Err(malformed(format!(
                    "'{number}' is a number, not a unit (only 1 stands alone, for dimension one)"
                )));
            }
            tokens.push(Token::One);
        } else if is_symbol_char(c) {
            let mut symbol = String::new();
            while let Some(&s) = chars.peek().filter(|&&s| is_symbol_char(s)) {
                symbol.push(s);
                chars.next();
            }
            tokens.push(Token::Symbol(symbol));
        } else {
            return Err(malformed(format!("unexpected character {c:?}")));
        }
    }
    Ok(tokens)
}

/// Dimension and SI factor of a (sub)expression; compound units are always intervals.
#[derive(Clone, Copy, Debug)]
struct Term {
    dimension: Dimension,
    factor: f64,
}

impl Term {
    fn checked(self) -> Result<Term, UnitError> {
        if self.factor.is_normal() && self.factor > 0.0 {
            Ok(self)
        } else {
            Err(malformed("conversion factor out of range"))
        }
    }

    fn times(self, rhs: Term) -> Result<Term, UnitError> {
        Term {
            dimension: self
                .dimension
                .checked_mul(rhs.dimension)
                .ok_or_else(|| malformed("exponent overflow"))?,
            factor: self.factor * rhs.factor,
        }
        .checked()
    }

    fn per(self, rhs: Term) -> Result<Term, UnitError> {
        Term {
            dimension: self
                .dimension
                .checked_div(rhs.dimension)
                .ok_or_else(|| malformed("exponent overflow"))?,
            factor: self.factor / rhs.factor,
        }
        .checked()
    }

    fn powi(self, n: i32) -> Result<Term, UnitError> {
        Term {
            dimension: self
                .dimension
                .checked_powi(n)
                .ok_or_else(|| malformed("exponent overflow"))?,
            factor: self.factor.powi(n),
        }
        .checked()
    }
}

/// Recursive descent over `product := power (('*'|'/') power)*`, `power := primary exponent?`,
/// `primary := symbol | 1 | '(' product ')'`. The SI Brochure (5.4.6) asks for parentheses
/// after a solidus because `a/b·c` is ambiguous on paper; clients do not always comply, so it is
/// read left to right as in arithmetic, (a/b)·c, and `J/(kg*K)` must be written with them.
/// Input is at most 64 characters, so nesting is at most 32 deep.
/// What a unit expression is read into: its dimension and factor (`Term`), or its atoms with
/// their net exponents (`Atoms`, for the D-SI export), by one recursive descent.
trait UnitAlgebra: Sized {
    fn atom(symbol: &str) -> Result<Self, UnitError>;
    fn one() -> Self;
    fn times(self, rhs: Self) -> Result<Self, UnitError>;
    fn per(self, rhs: Self) -> Result<Self, UnitError>;
    fn powi(self, n: i32) -> Result<Self, UnitError>;
}

impl UnitAlgebra for Term {
    fn atom(symbol: &str) -> Result<Term, UnitError> {
        let atom = lookup_atom(symbol)?;
        Term {
            dimension: atom.unit.dimension,
            factor: atom.prefix * atom.unit.factor,
        }
        .checked()
    }

    fn one() -> Term {
        Term {
            dimension: Dimension::DIMENSIONLESS,
            factor: 1.0,
        }
    }

    fn times(self, rhs: Term) -> Result<Term, UnitError> {
        Term::times(self, rhs)
    }

    fn per(self, rhs: Term) -> Result<Term, UnitError> {
        Term::per(self, rhs)
    }

    fn powi(self, n: i32) -> Result<Term, UnitError> {
        Term::powi(self, n)
    }
}

/// Atoms as written (prefix included, `kPa`) with their exponents, in order of appearance.
struct Atoms(Vec<(String, i32)>);

impl UnitAlgebra for Atoms {
    fn atom(symbol: &str) -> Result<Atoms, UnitError> {
        lookup_atom(symbol)?;
        Ok(Atoms(vec![(symbol.to_string(), 1)]))
    }

    fn one() -> Atoms {
        Atoms(Vec::new())
    }

    fn times(mut self, rhs: Atoms) -> Result<Atoms, UnitError> {
        self.0.extend(rhs.0);
        Ok(self)
    }

    fn per(mut self, rhs: Atoms) -> Result<Atoms, UnitError> {
        self.0
            .extend(rhs.0.into_iter().map(|(atom, exponent)| (atom, -exponent)));
        Ok(self)
    }

    fn powi(self, n: i32) -> Result<Atoms, UnitError> {
        self.0
            .into_iter()
            .map(|(atom, exponent)| {
                exponent
                    .checked_mul(n)
                    .map(|e| (atom, e))
                    .ok_or_else(|| malformed("exponent overflow"))
            })
            .collect::<Result<_, _>>()
            .map(Atoms)
    }
}

struct Parser<'t, A> {
    tokens: &'t [Token],
    pos: usize,
    read: std::marker::PhantomData<A>,
}

impl<A: UnitAlgebra> Parser<'_, A> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<&Token> {
        let t = self.tokens.get(self.pos);
        self.pos += 1;
        t
    }

    fn product(&mut self) -> Result<A, UnitError> {
        let mut acc = self.power()?;
        loop {
            match self.peek() {
                Some(Token::Times) => {
                    self.pos += 1;
                    acc = acc.times(self.power()?)?;
                }
                Some(Token::Per) => {
                    self.pos += 1;
                    acc = acc.per(self.power()?)?;
                }
                _ => return Ok(acc),
            }
        }
    }

    fn power(&mut self) -> Result<A, UnitError> {
        let base = self.primary()?;
        match self.peek() {
            Some(&Token::Power(n)) => {
                self.pos += 1;
                if matches!(self.peek(), Some(Token::Power(_))) {
                    return Err(malformed("two exponents in a row"));
                }
                base.powi(n)
            }
            _ => Ok(base),
        }
    }

    fn primary(&mut self) -> Result<A, UnitError> {
        match self.next() {
            Some(Token::Symbol(s)) => A::atom(s),
            Some(Token::One) => Ok(A::one()),
            Some(Token::Open) => {
                let inner = self.product()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err(malformed("unbalanced parenthesis")),
                }
            }
            Some(Token::Close) => Err(malformed("unbalanced parenthesis")),
            Some(Token::Power(_)) => Err(malformed("exponent without a unit")),
            Some(Token::Times | Token::Per) => Err(malformed("operator without a unit")),
            None => Err(malformed("ends where a unit was expected")),
        }
    }
}

fn read_expression<A: UnitAlgebra>(tokens: &[Token]) -> Result<A, UnitError> {
    let mut parser = Parser {
        tokens,
        pos: 0,
        read: std::marker::PhantomData::<A>,
    };
    let read = parser.product()?;
    match parser.peek() {
        None => Ok(read),
        Some(Token::Close) => Err(malformed("unbalanced parenthesis")),
        Some(Token::Power(_)) => Err(malformed("two exponents in a row")),
        Some(_) => Err(malformed("units must be joined with '*', '·' or '/'")),
    }
}

/// The atoms of a unit symbol (prefix included, as written) with their net exponents, read
/// exactly as [`parse_unit`] reads it: `J/(kg*K)` → J¹ kg⁻¹ K⁻¹. Atoms with a net exponent of 0
/// are left out. Used to state a unit in another vocabulary (D-SI) atom by atom.
pub fn unit_atoms(symbol: &str) -> Result<Vec<(String, i32)>, UnitError> {
    if symbol.chars().nth(MAX_SYMBOL_CHARS).is_some() {
        return Err(malformed(format!(
            "longer than {MAX_SYMBOL_CHARS} characters"
        )));
    }
    let tokens = tokenize(symbol.trim())?;
    let Atoms(factors) = read_expression(&tokens)?;
    let mut merged: Vec<(String, i32)> = Vec::new();
    for (atom, exponent) in factors {
        match merged.iter_mut().find(|(a, _)| *a == atom) {
            Some(slot) => slot.1 += exponent,
            None => merged.push((atom, exponent)),
        }
    }
    merged.retain(|(_, exponent)| *exponent != 0);
    Ok(merged)
}

/// Reads a unit symbol as a client wrote it.
///
/// Accepts SI units with SI prefixes, the catalogued non-SI units, `1`, and products, quotients
/// and integer powers of them (`m/s^2`, `J/(kg*K)`, `m·K⁻¹`). A bare `degC`/`°C`/`℃`/`degF`/`°F`
/// is an affine temperature scale; inside a compound unit a temperature is an interval. Never
/// panics; refuses empty, unknown, over-long or malformed symbols.
pub fn parse_unit(symbol: &str) -> Result<Unit, UnitError> {
    if symbol.chars().nth(MAX_SYMBOL_CHARS).is_some() {
        return Err(malformed(format!(
            "longer than {MAX_SYMBOL_CHARS} characters"
        )));
    }
    let written = symbol.trim();
    if written.is_empty() {
        return Err(UnitError::Empty);
    }
    let tokens = tokenize(written)?;

    // A temperature scale keeps its zero only when written alone: a reading in °C is a point
    // on the Celsius scale, but °C inside `mm/°C` is a kelvin-sized difference.
    if let [Token::Symbol(s)] = tokens.as_slice() {
        let atom = lookup_atom(s)?;
        let term = Term {
            dimension: atom.unit.dimension,
            factor: atom.prefix * atom.unit.factor,
        }
        .checked()?;
        return Ok(Unit {
            symbol: symbol.to_string(),
            dimension: term.dimension,
            factor: term.factor,
            offset: atom.unit.offset,
        });
    }

    let term: Term = read_expression(&tokens)?;
    Ok(Unit {
        symbol: symbol.to_string(),
        dimension: term.dimension,
        factor: term.factor,
        offset: 0.0,
    })
}

// ---------------------------------------------------------------------------------------------
// Quantity
// ---------------------------------------------------------------------------------------------

/// A value with the unit the client wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantity {
    pub value: f64,
    pub unit: Unit,
}

impl Quantity {
    /// Err names the problem (non-finite value, unknown unit) as a message; callers add the field path.
    pub fn new(value: f64, symbol: &str) -> Result<Quantity, String> {
        if !value.is_finite() {
            return Err("value must be a finite number".to_string());
        }
        let unit = parse_unit(symbol).map_err(|e| e.to_string())?;
        Ok(Quantity { value, unit })
    }

    /// SI value of the quantity read as a point on its scale (20 °C -> 293.15 K).
    pub fn point_si(&self) -> f64 {
        self.unit.point_to_si(self.value)
    }

    /// SI value of the quantity read as a difference (0.5 °C -> 0.5 K).
    pub fn interval_si(&self) -> f64 {
        self.unit.interval_to_si(self.value)
    }

    /// The same quantity, as a point, expressed in `unit` (same dimension required).
    pub fn point_in(&self, unit: &Unit) -> Option<Quantity> {
        self.unit.is_commensurable_with(unit).then(|| Quantity {
            value: unit.point_from_si(self.point_si()),
            unit: unit.clone(),
        })
    }

    /// The same quantity, as an interval, expressed in `unit` (same dimension required):
    /// how an uncertainty is restated in the unit of the point's reference value.
    pub fn interval_in(&self, unit: &Unit) -> Option<Quantity> {
        self.unit.is_commensurable_with(unit).then(|| Quantity {
            value: unit.interval_from_si(self.interval_si()),
            unit: unit.clone(),
        })
    }

    /// The API shape, echoing the symbol as the client wrote it.
    pub fn to_json(&self) -> QuantityJson {
        QuantityJson {
            value: self.value,
            unit: self.unit.symbol.clone(),
        }
    }

    fn is_kind(&self, kind: QuantityKind) -> bool {
        self.unit.dimension == kind.dimension()
    }

    /// A temperature reading as a point on the thermodynamic scale (20 °C -> 293.15 K).
    pub fn as_temperature_point(&self) -> Option<uom::si::f64::ThermodynamicTemperature> {
        use uom::si::thermodynamic_temperature::kelvin;
        self.is_kind(QuantityKind::Temperature)
            .then(|| uom::si::f64::ThermodynamicTemperature::new::<kelvin>(self.point_si()))
    }

    /// A temperature difference, tolerance, error or uncertainty (0.5 °C -> 0.5 K).
    pub fn as_temperature_interval(&self) -> Option<uom::si::f64::TemperatureInterval> {
        use uom::si::temperature_interval::kelvin;
        self.is_kind(QuantityKind::Temperature)
            .then(|| uom::si::f64::TemperatureInterval::new::<kelvin>(self.interval_si()))
    }

    pub fn as_pressure(&self) -> Option<uom::si::f64::Pressure> {
        use uom::si::pressure::pascal;
        self.is_kind(QuantityKind::Pressure)
            .then(|| uom::si::f64::Pressure::new::<pascal>(self.interval_si()))
    }

    pub fn as_length(&self) -> Option<uom::si::f64::Length> {
        use uom::si::length::meter;
        self.is_kind(QuantityKind::Length)
            .then(|| uom::si::f64::Length::new::<meter>(self.interval_si()))
    }

    pub fn as_mass(&self) -> Option<uom::si::f64::Mass> {
        use uom::si::mass::kilogram;
        self.is_kind(QuantityKind::Mass)
            .then(|| uom::si::f64::Mass::new::<kilogram>(self.interval_si()))
    }

    pub fn as_time(&self) -> Option<uom::si::f64::Time> {
        use uom::si::time::second;
        self.is_kind(QuantityKind::Time)
            .then(|| uom::si::f64::Time::new::<second>(self.interval_si()))
    }

    pub fn as_electric_current(&self) -> Option<uom::si::f64::ElectricCurrent> {
        use uom::si::electric_current::ampere;
        self.is_kind(QuantityKind::ElectricCurrent)
            .then(|| uom::si::f64::ElectricCurrent::new::<ampere>(self.interval_si()))
    }

    pub fn as_voltage(&self) -> Option<uom::si::f64::ElectricPotential> {
        use uom::si::electric_potential::volt;
        self.is_kind(QuantityKind::Voltage)
            .then(|| uom::si::f64::ElectricPotential::new::<volt>(self.interval_si()))
    }

    pub fn as_resistance(&self) -> Option<uom::si::f64::ElectricalResistance> {
        use uom::si::electrical_resistance::ohm;
        self.is_kind(QuantityKind::Resistance)
            .then(|| uom::si::f64::ElectricalResistance::new::<ohm>(self.interval_si()))
    }

    pub fn as_frequency(&self) -> Option<uom::si::f64::Frequency> {
        use uom::si::frequency::hertz;
        self.is_kind(QuantityKind::Frequency)
            .then(|| uom::si::f64::Frequency::new::<hertz>(self.interval_si()))
    }

    pub fn as_force(&self) -> Option<uom::si::f64::Force> {
        use uom::si::force::newton;
        self.is_kind(QuantityKind::Force)
            .then(|| uom::si::f64::Force::new::<newton>(self.interval_si()))
    }

    /// A quantity of dimension one (%, ppm, %RH, 1) as a uom ratio.
    pub fn as_ratio(&self) -> Option<uom::si::f64::Ratio> {
        use uom::si::ratio::ratio;
        self.unit
            .dimension
            .is_dimensionless()
            .then(|| uom::si::f64::Ratio::new::<ratio>(self.interval_si()))
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.value, self.unit.symbol)
    }
}

/// JSON shape of every quantity in the API: {"value": 0.5, "unit": "MPa"}.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct QuantityJson {
    pub value: f64,
    pub unit: String,
}

impl From<&Quantity> for QuantityJson {
    fn from(q: &Quantity) -> Self {
        q.to_json()
    }
}

/// Validates a QuantityJson found at JSON path `field` (e.g. "range.min"): finite value, known unit,
/// and — when `expected` is Some — the dimension. Errors name `field` for value problems and
/// `format!("{field}.unit")` for unit problems; messages name the expected dimension via describe().
pub fn check_quantity(
    q: &QuantityJson,
    field: &str,
    expected: Option<Dimension>,
) -> Result<Quantity, FieldError> {
    if !q.value.is_finite() {
        return Err(FieldError {
            field: field.to_string(),
            message: "value must be a finite number".to_string(),
        });
    }
    let unit_field = format!("{field}.unit");
    let expecting = expected
        .map(|d| format!("; expected a unit of {}", d.describe()))
        .unwrap_or_default();
    let unit = parse_unit(&q.unit).map_err(|e| FieldError {
        field: unit_field.clone(),
        message: format!("{e}{expecting}"),
    })?;
    if let Some(expected) = expected {
        if unit.dimension != expected {
            return Err(FieldError {
                field: unit_field,
                message: format!(
                    "unit '{}' is of dimension {}, expected {}",
                    q.unit,
                    unit.dimension.describe(),
                    expected.describe()
                ),
            });
        }
    }
    Ok(Quantity {
        value: q.value,
        unit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unit_atoms_are_read_like_the_unit() {
        let atoms = |symbol: &str| unit_atoms(symbol).unwrap();
        assert_eq!(
            atoms("J/(kg*K)"),
            vec![("J".into(), 1), ("kg".into(), -1), ("K".into(), -1)]
        );
        assert_eq!(atoms("m·s⁻²"), vec![("m".into(), 1), ("s".into(), -2)]);
        assert_eq!(atoms("kPa"), vec![("kPa".into(), 1)]);
        assert_eq!(atoms("m/m"), vec![]);
        assert_eq!(atoms("(m/s)^2"), vec![("m".into(), 2), ("s".into(), -2)]);
        assert!(unit_atoms("m s").is_err());
        assert!(unit_atoms("furlong").is_err());
        assert!(unit_atoms("m^99999999999").is_err());
    }

    const L: usize = 0;
    const M: usize = 1;
    const T: usize = 2;
    const I: usize = 3;
    const TH: usize = 4;
    const N: usize = 5;
    const J: usize = 6;

    fn dim(pairs: &[(usize, i8)]) -> Dimension {
        let mut d = [0i8; 7];
        for &(i, e) in pairs {
            d[i] = e;
        }
        Dimension(d)
    }

    fn unit(s: &str) -> Unit {
        parse_unit(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn assert_close(actual: f64, expected: f64, what: &str) {
        let tolerance = 1e-12 * expected.abs().max(f64::MIN_POSITIVE);
        assert!(
            (actual - expected).abs() <= tolerance,
            "{what}: {actual:e} != {expected:e}"
        );
    }

    /// Every spelling a client may use for a catalogued unit, with and without prefixes,
    /// together with the factor it must have.
    fn every_atom() -> Vec<(String, f64, Dimension, f64)> {
        let mut out = Vec::new();
        for u in catalogue() {
            for s in u.spellings() {
                out.push((s.to_string(), u.factor, u.dimension, u.offset));
                if u.prefixable {
                    for &(p, scale) in prefixes() {
                        out.push((format!("{p}{s}"), scale * u.factor, u.dimension, 0.0));
                    }
                }
            }
        }
        out
    }

    // --- base symbols -----------------------------------------------------------------------

    #[test]
    fn si_units_have_their_si_dimension_and_factor_one() {
        let table: &[(&str, Dimension, f64)] = &[
            ("m", dim(&[(L, 1)]), 1.0),
            ("g", dim(&[(M, 1)]), 1e-3),
            ("s", dim(&[(T, 1)]), 1.0),
            ("A", dim(&[(I, 1)]), 1.0),
            ("K", dim(&[(TH, 1)]), 1.0),
            ("mol", dim(&[(N, 1)]), 1.0),
            ("cd", dim(&[(J, 1)]), 1.0),
            ("Hz", dim(&[(T, -1)]), 1.0),
            ("N", dim(&[(L, 1), (M, 1), (T, -2)]), 1.0),
            ("Pa", dim(&[(L, -1), (M, 1), (T, -2)]), 1.0),
            ("J", dim(&[(L, 2), (M, 1), (T, -2)]), 1.0),
            ("W", dim(&[(L, 2), (M, 1), (T, -3)]), 1.0),
            ("C", dim(&[(T, 1), (I, 1)]), 1.0),
            ("V", dim(&[(L, 2), (M, 1), (T, -3), (I, -1)]), 1.0),
            ("F", dim(&[(L, -2), (M, -1), (T, 4), (I, 2)]), 1.0),
            ("ohm", dim(&[(L, 2), (M, 1), (T, -3), (I, -2)]), 1.0),
            ("S", dim(&[(L, -2), (M, -1), (T, 3), (I, 2)]), 1.0),
            ("Wb", dim(&[(L, 2), (M, 1), (T, -2), (I, -1)]), 1.0),
            ("T", dim(&[(M, 1), (T, -2), (I, -1)]), 1.0),
            ("H", dim(&[(L, 2), (M, 1), (T, -2), (I, -2)]), 1.0),
        ];
        for &(symbol, dimension, factor) in table {
            let u = unit(symbol);
            assert_eq!(u.dimension, dimension, "{symbol}");
            assert_close(u.factor, factor, symbol);
            assert_eq!(u.offset, 0.0, "{symbol}");
            assert!(!u.is_affine(), "{symbol}");
            assert_eq!(u.symbol, symbol);
        }
    }

    #[test]
    fn non_si_units_convert_by_their_definitions() {
        let pressure = dim(&[(L, -1), (M, 1), (T, -2)]);
        let table: &[(&str, Dimension, f64)] = &[
            ("bar", pressure, 1e5),
            ("mbar", pressure, 100.0),
            ("kbar", pressure, 1e8),
            ("psi", pressure, 6894.757293168361),
            ("min", dim(&[(T, 1)]), 60.0),
            ("h", dim(&[(T, 1)]), 3600.0),
            ("L", dim(&[(L, 3)]), 1e-3),
            ("mL", dim(&[(L, 3)]), 1e-6),
            ("uL", dim(&[(L, 3)]), 1e-9),
            ("%RH", Dimension::DIMENSIONLESS, 0.01),
            ("%", Dimension::DIMENSIONLESS, 0.01),
            ("ppm", Dimension::DIMENSIONLESS, 1e-6),
            ("1", Dimension::DIMENSIONLESS, 1.0),
            ("kg", dim(&[(M, 1)]), 1.0),
            ("mg", dim(&[(M, 1)]), 1e-6),
            ("degF", dim(&[(TH, 1)]), 5.0 / 9.0),
            ("degC", dim(&[(TH, 1)]), 1.0),
        ];
        for &(symbol, dimension, factor) in table {
            let u = unit(symbol);
            assert_eq!(u.dimension, dimension, "{symbol}");
            assert_close(u.factor, factor, symbol);
        }
        // Exact to the last digit: psi is a defined conversion.
        assert_eq!(unit("psi").factor, 6894.757293168361);
        assert_eq!(unit("kg").factor, 1.0);
    }

    #[test]
    fn catalogue_symbols_are_the_ones_design_lists() {
        let mut spellings: Vec<&str> = catalogue().iter().flat_map(|u| u.spellings()).collect();
        for s in [
            "m", "g", "s", "A", "K", "mol", "cd", "Hz", "N", "Pa", "J", "W", "C", "V", "F", "ohm",
            "S", "Wb", "T", "H", "degC", "degF", "bar", "psi", "min", "h", "L", "%RH", "ppm", "%",
            "°C", "℃", "°F", "\u{03A9}", "\u{2126}",
        ] {
            assert!(spellings.contains(&s), "{s} missing from catalogue");
        }
        let total = spellings.len();
        spellings.sort_unstable();
        spellings.dedup();
        assert_eq!(spellings.len(), total, "a spelling is catalogued twice");
    }

    #[test]
    fn every_prefix_scales_the_metre() {
        let table: &[(&str, f64)] = &[
            ("q", 1e-30),
            ("r", 1e-27),
            ("y", 1e-24),
            ("z", 1e-21),
            ("a", 1e-18),
            ("f", 1e-15),
            ("p", 1e-12),
            ("n", 1e-9),
            ("u", 1e-6),
            ("\u{00B5}", 1e-6),
            ("\u{03BC}", 1e-6),
            ("m", 1e-3),
            ("c", 1e-2),
            ("d", 1e-1),
            ("da", 1e1),
            ("h", 1e2),
            ("k", 1e3),
            ("M", 1e6),
            ("G", 1e9),
            ("T", 1e12),
            ("P", 1e15),
            ("E", 1e18),
            ("Z", 1e21),
            ("Y", 1e24),
            ("R", 1e27),
            ("Q", 1e30),
        ];
        assert_eq!(table.len(), prefixes().len());
        for &(p, scale) in table {
            let u = unit(&format!("{p}m"));
            assert_eq!(u.dimension, dim(&[(L, 1)]), "{p}m");
            assert_close(u.factor, scale, &format!("{p}m"));
            let g = unit(&format!("{p}g"));
            assert_close(g.factor, scale * 1e-3, &format!("{p}g"));
        }
    }

    #[test]
    fn exact_symbols_win_over_prefix_splits() {
        assert_eq!(unit("cd").dimension, dim(&[(J, 1)]));
        assert_eq!(unit("mol").dimension, dim(&[(N, 1)]));
        assert_eq!(unit("min").factor, 60.0);
        assert_eq!(unit("Pa").dimension, dim(&[(L, -1), (M, 1), (T, -2)]));
        assert_eq!(unit("T").dimension, dim(&[(M, 1), (T, -2), (I, -1)]));
        assert_eq!(unit("h").factor, 3600.0);
        assert_close(unit("mm").factor, 1e-3, "mm");
        assert_eq!(unit("mm").dimension, dim(&[(L, 1)]));
        assert_close(unit("mK").factor, 1e-3, "mK");
        assert_eq!(unit("mK").dimension, dim(&[(TH, 1)]));
        assert_close(unit("hPa").factor, 100.0, "hPa");
        assert_close(unit("dam").factor, 10.0, "dam");
        assert_close(unit("ms").factor, 1e-3, "ms");
        assert_close(unit("Ts").factor, 1e12, "Ts");
        assert_close(unit("mT").factor, 1e-3, "mT");
    }

    #[test]
    fn alias_spellings_agree() {
        for group in [
            &["uV", "µV", "μV"][..],
            &["ohm", "\u{03A9}", "\u{2126}"],
            &["kohm", "k\u{03A9}", "k\u{2126}"],
            &["uohm", "µ\u{03A9}", "μ\u{2126}"],
            &["degC", "°C", "℃"],
            &["degF", "°F"],
            &["m·s", "m*s", "m⋅s", "m * s"],
            &["m^2", "m²", "m^+2", "m ^2"],
            &["m^-1", "m⁻¹", "m^−1", "1/m"],
        ] {
            let first = unit(group[0]);
            for s in &group[1..] {
                let other = unit(s);
                assert_eq!(other.dimension, first.dimension, "{s} vs {}", group[0]);
                assert_close(other.factor, first.factor, s);
                assert_eq!(other.offset, first.offset, "{s}");
            }
        }
    }

    #[test]
    fn temperature_scales_are_affine_only_when_bare() {
        for s in ["degC", "°C", "℃", "degF", "°F", " degC "] {
            assert!(unit(s).is_affine(), "{s}");
        }
        for s in [
            "K", "mK", "mm/degC", "1/°C", "degC^1", "(degC)", "degC*1", "°F/min", "%RH",
        ] {
            let u = unit(s);
            assert!(!u.is_affine(), "{s}");
            assert_eq!(u.offset, 0.0, "{s}");
        }
        assert_eq!(unit("degC").offset, 273.15);
        assert_close(unit("degF").offset, 459.67 * 5.0 / 9.0, "degF offset");
        assert_close(unit("mm/°F").factor, 1e-3 / (5.0 / 9.0), "mm/°F");
    }

    #[test]
    fn temperature_points_and_intervals() {
        let c = unit("degC");
        let f = unit("degF");
        assert_close(c.point_to_si(0.0), 273.15, "0 °C");
        assert_close(f.point_to_si(32.0), 273.15, "32 °F");
        assert_close(f.point_to_si(212.0), 373.15, "212 °F");
        assert_close(c.interval_to_si(0.5), 0.5, "0.5 °C interval");
        assert_close(f.interval_to_si(1.0), 5.0 / 9.0, "1 °F interval");
        assert_close(f.interval_to_si(0.9), 0.5, "0.9 °F interval");
        assert_close(c.point_from_si(293.15), 20.0, "293.15 K in °C");
        assert_close(unit("K").point_to_si(300.0), 300.0, "K");
    }

    #[test]
    fn compound_units() {
        let table: &[(&str, Dimension, f64)] = &[
            ("m/s^2", dim(&[(L, 1), (T, -2)]), 1.0),
            ("m/s²", dim(&[(L, 1), (T, -2)]), 1.0),
            ("mm/K", dim(&[(L, 1), (TH, -1)]), 1e-3),
            ("1/K", dim(&[(TH, -1)]), 1.0),
            (
                "uV/K",
                dim(&[(L, 2), (M, 1), (T, -3), (I, -1), (TH, -1)]),
                1e-6,
            ),
            ("kPa/V", dim(&[(L, -3), (T, 1), (I, 1)]), 1e3),
            ("N*m", dim(&[(L, 2), (M, 1), (T, -2)]), 1.0),
            ("N·m", dim(&[(L, 2), (M, 1), (T, -2)]), 1.0),
            ("J/(kg*K)", dim(&[(L, 2), (T, -2), (TH, -1)]), 1.0),
            ("J/(g·K)", dim(&[(L, 2), (T, -2), (TH, -1)]), 1e3),
            ("nm/K", dim(&[(L, 1), (TH, -1)]), 1e-9),
            ("m·K⁻¹", dim(&[(L, 1), (TH, -1)]), 1.0),
            ("mm³", dim(&[(L, 3)]), 1e-9),
            ("cm^3", dim(&[(L, 3)]), 1e-6),
            ("(mm)^2", dim(&[(L, 2)]), 1e-6),
            ("km/h", dim(&[(L, 1), (T, -1)]), 1e3 / 3600.0),
            ("L/min", dim(&[(L, 3), (T, -1)]), 1e-3 / 60.0),
            (
                "mbar/degC",
                dim(&[(L, -1), (M, 1), (T, -2), (TH, -1)]),
                100.0,
            ),
            ("ppm/K", dim(&[(TH, -1)]), 1e-6),
            ("%/°C", dim(&[(TH, -1)]), 0.01),
            (
                "kΩ/K",
                dim(&[(L, 2), (M, 1), (T, -3), (I, -2), (TH, -1)]),
                1e3,
            ),
            ("µmol/(m²·s)", dim(&[(L, -2), (T, -1), (N, 1)]), 1e-6),
            ("W/(m^2*K^4)", dim(&[(M, 1), (T, -3), (TH, -4)]), 1.0),
            ("((m))", dim(&[(L, 1)]), 1.0),
        ];
        for &(symbol, dimension, factor) in table {
            let u = unit(symbol);
            assert_eq!(u.dimension, dimension, "{symbol}");
            assert_close(u.factor, factor, symbol);
            assert!(!u.is_affine(), "{symbol}");
            assert_eq!(u.symbol, symbol, "the symbol is echoed as written");
        }
    }

    #[test]
    fn products_and_quotients_read_left_to_right() {
        // a/b*c = (a/b)·c, read left to right as in arithmetic.
        assert_eq!(unit("m/s*s").dimension, dim(&[(L, 1)]));
        assert_eq!(unit("J/kg*K").dimension, dim(&[(L, 2), (T, -2), (TH, 1)]));
        assert_eq!(unit("m/s/s").dimension, dim(&[(L, 1), (T, -2)]));
        assert_eq!(unit("m/(s*s)").dimension, dim(&[(L, 1), (T, -2)]));
        // The exponent binds to the prefixed unit: km² is (km)², 1e6 m².
        assert_close(unit("km^2").factor, 1e6, "km^2");
    }

    #[test]
    fn refuses_what_is_not_a_unit() {
        let empty = [String::new(), "   ".to_string()];
        for s in &empty {
            assert_eq!(parse_unit(s), Err(UnitError::Empty), "{s:?}");
        }
        assert_eq!(
            parse_unit("NaN"),
            Err(UnitError::UnknownSymbol("NaN".into()))
        );
        assert_eq!(
            parse_unit("mm/Kelvin"),
            Err(UnitError::UnknownSymbol("Kelvin".into()))
        );
        let unknown = [
            "inf", "Kelvin", "kmin", "mdegC", "k°C", "kpsi", "m%", "mkg", "da", "kh", "u",
        ];
        for s in unknown {
            assert!(
                matches!(parse_unit(s), Err(UnitError::UnknownSymbol(_))),
                "{s:?} gave {:?}",
                parse_unit(s)
            );
        }
        let long = "m*".repeat(40) + "m";
        let malformed = [
            "-",
            "m^",
            "m^-",
            "m^^2",
            "m^2^3",
            "m²³⁻",
            "m^0",
            "m^1.5",
            "m m",
            "N m",
            "m2",
            "10*m",
            "1e3",
            "(m",
            "m)",
            "()",
            "*m",
            "m/",
            "m//s",
            "^2",
            "m.s",
            "m\u{0}",
            "m^99999999999",
            "m^128",
            "m^127*m",
            "m^-128/m",
            "(m^100)^2",
            "Qm^11",
            "qm^11",
            long.as_str(),
        ];
        for s in malformed {
            assert!(
                matches!(parse_unit(s), Err(UnitError::Malformed(_))),
                "{s:?} gave {:?}",
                parse_unit(s)
            );
        }
        // The limit is on characters, not bytes.
        let at_limit = format!("m{}", "*m".repeat((MAX_SYMBOL_CHARS - 1) / 2));
        assert!(at_limit.chars().count() <= MAX_SYMBOL_CHARS);
        assert!(parse_unit(&at_limit).is_ok());
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(UnitError::Empty.to_string(), "unit symbol is empty");
        assert_eq!(
            parse_unit("Kelvin").unwrap_err().to_string(),
            "unknown unit symbol 'Kelvin'"
        );
        assert!(parse_unit("m^")
            .unwrap_err()
            .to_string()
            .starts_with("malformed unit: "));
        let boxed: Box<dyn std::error::Error> = Box::new(UnitError::Empty);
        assert!(!boxed.to_string().is_empty());
    }

    // --- dimensions and kinds ---------------------------------------------------------------

    #[test]
    fn dimension_arithmetic_is_checked() {
        let length = dim(&[(L, 1)]);
        let time = dim(&[(T, 1)]);
        assert_eq!(length.checked_div(time), Some(dim(&[(L, 1), (T, -1)])));
        assert_eq!(length.checked_mul(length), Some(dim(&[(L, 2)])));
        assert_eq!(length.checked_powi(-3), Some(dim(&[(L, -3)])));
        assert_eq!(length.checked_powi(0), Some(Dimension::DIMENSIONLESS));
        assert_eq!(dim(&[(L, 127)]).checked_mul(length), None);
        assert_eq!(dim(&[(L, -128)]).checked_div(length), None);
        assert_eq!(dim(&[(L, 2)]).checked_powi(64), None);
        assert_eq!(length.checked_powi(i32::MAX), None);
        assert_eq!(dim(&[(L, -1)]).checked_powi(i32::MIN), None);
        assert_eq!(length.checked_powi(-128), Some(dim(&[(L, -128)])));
        assert!(Dimension::DIMENSIONLESS.is_dimensionless());
        assert!(!length.is_dimensionless());
    }

    #[test]
    fn describe_names_kind_and_si_form() {
        assert_eq!(
            QuantityKind::Pressure.dimension().describe(),
            "pressure (kg·m⁻¹·s⁻²)"
        );
        assert_eq!(QuantityKind::Length.dimension().describe(), "length (m)");
        assert_eq!(unit("mm/K").dimension.describe(), "m·K⁻¹");
        assert_eq!(Dimension::DIMENSIONLESS.describe(), "dimensionless (1)");
        assert_eq!(
            QuantityKind::Torque.dimension().describe(),
            "energy or torque (m²·kg·s⁻²)"
        );
        assert_eq!(
            QuantityKind::ElectricCurrent.dimension().describe(),
            "electric current (A)"
        );
        assert_eq!(
            QuantityKind::Temperature.dimension().describe(),
            "temperature (K)"
        );
        assert_eq!(
            QuantityKind::Capacitance.dimension().describe(),
            "capacitance (s⁴·A²·m⁻²·kg⁻¹)"
        );
        assert_eq!(dim(&[(L, -128)]).si_form(), "m⁻¹²⁸");
    }

    #[test]
    fn kinds_have_the_dimensions_metrologists_know() {
        use QuantityKind::*;
        let table: &[(QuantityKind, Dimension)] = &[
            (Length, dim(&[(L, 1)])),
            (Mass, dim(&[(M, 1)])),
            (Time, dim(&[(T, 1)])),
            (ElectricCurrent, dim(&[(I, 1)])),
            (Temperature, dim(&[(TH, 1)])),
            (AmountOfSubstance, dim(&[(N, 1)])),
            (LuminousIntensity, dim(&[(J, 1)])),
            (Frequency, dim(&[(T, -1)])),
            (Force, dim(&[(L, 1), (M, 1), (T, -2)])),
            (Pressure, dim(&[(L, -1), (M, 1), (T, -2)])),
            (Energy, dim(&[(L, 2), (M, 1), (T, -2)])),
            (Power, dim(&[(L, 2), (M, 1), (T, -3)])),
            (ElectricCharge, dim(&[(T, 1), (I, 1)])),
            (Voltage, dim(&[(L, 2), (M, 1), (T, -3), (I, -1)])),
            (Capacitance, dim(&[(L, -2), (M, -1), (T, 4), (I, 2)])),
            (Resistance, dim(&[(L, 2), (M, 1), (T, -3), (I, -2)])),
            (Conductance, dim(&[(L, -2), (M, -1), (T, 3), (I, 2)])),
            (MagneticFlux, dim(&[(L, 2), (M, 1), (T, -2), (I, -1)])),
            (MagneticFluxDensity, dim(&[(M, 1), (T, -2), (I, -1)])),
            (Inductance, dim(&[(L, 2), (M, 1), (T, -2), (I, -2)])),
            (Volume, dim(&[(L, 3)])),
            (Area, dim(&[(L, 2)])),
            (Velocity, dim(&[(L, 1), (T, -1)])),
            (Acceleration, dim(&[(L, 1), (T, -2)])),
            (Torque, dim(&[(L, 2), (M, 1), (T, -2)])),
            (RelativeHumidity, Dimension::DIMENSIONLESS),
            (Dimensionless, Dimension::DIMENSIONLESS),
        ];
        assert_eq!(table.len(), QuantityKind::all().len());
        for &(kind, dimension) in table {
            assert_eq!(kind.dimension(), dimension, "{kind:?}");
        }
    }

    #[test]
    fn kind_names_are_serde_snake_case() {
        fn snake(camel: &str) -> String {
            let mut out = String::new();
            for (i, c) in camel.chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    out.push('_');
                }
                out.extend(c.to_lowercase());
            }
            out
        }
        for &kind in QuantityKind::all() {
            assert_eq!(kind.name(), snake(&format!("{kind:?}")));
            assert_eq!(QuantityKind::from_name(kind.name()), Some(kind));
            assert_eq!(kind.to_string(), kind.name());
        }
        assert_eq!(QuantityKind::from_name("Pressure"), None);
        assert_eq!(QuantityKind::from_name(""), None);
    }

    #[test]
    fn units_know_their_quantity_kind() {
        use QuantityKind::*;
        let table: &[(&str, Option<QuantityKind>)] = &[
            ("MPa", Some(Pressure)),
            ("psi", Some(Pressure)),
            ("mbar", Some(Pressure)),
            ("degC", Some(Temperature)),
            ("mK", Some(Temperature)),
            ("%RH", Some(RelativeHumidity)),
            ("%", Some(Dimensionless)),
            ("ppm", Some(Dimensionless)),
            ("1", Some(Dimensionless)),
            ("%RH/K", None),
            ("Hz", Some(Frequency)),
            ("1/s", Some(Frequency)),
            ("J", Some(Energy)),
            ("W*s", Some(Energy)),
            ("N*m", Some(Torque)),
            ("N·m", Some(Torque)),
            ("cN·m", Some(Torque)),
            ("m*kN", Some(Torque)),
            ("kΩ", Some(Resistance)),
            ("mL", Some(Volume)),
            ("m/s^2", Some(Acceleration)),
            ("km/h", Some(Velocity)),
            ("mm²", Some(Area)),
            ("uV", Some(Voltage)),
            ("nm/K", None),
        ];
        for &(symbol, kind) in table {
            assert_eq!(unit(symbol).quantity_kind(), kind, "{symbol}");
        }
    }

    // --- quantities -------------------------------------------------------------------------

    #[test]
    fn uom_views_treat_temperature_points_and_intervals_apart() {
        use uom::si::temperature_interval::kelvin as interval_kelvin;
        use uom::si::thermodynamic_temperature::kelvin;

        let half_degree = Quantity::new(0.5, "degC").unwrap();
        let interval = half_degree.as_temperature_interval().unwrap();
        assert_close(interval.get::<interval_kelvin>(), 0.5, "0.5 °C interval");

        let room = Quantity::new(20.0, "degC").unwrap();
        assert_close(
            room.as_temperature_point().unwrap().get::<kelvin>(),
            293.15,
            "20 °C",
        );
        let room_f = Quantity::new(68.0, "°F").unwrap();
        assert_close(
            room_f.as_temperature_point().unwrap().get::<kelvin>(),
            293.15,
            "68 °F",
        );

        assert!(room.as_pressure().is_none());
        assert!(room.as_length().is_none());
        assert!(Quantity::new(1.0, "kPa")
            .unwrap()
            .as_temperature_point()
            .is_none());
    }

    #[test]
    fn uom_views_of_other_kinds() {
        use uom::si::{
            electric_current::ampere, electric_potential::volt, electrical_resistance::ohm,
            force::newton, frequency::hertz, length::meter, mass::kilogram, pressure::pascal,
            ratio::ratio, time::second,
        };
        let q = |v, s| Quantity::new(v, s).unwrap();
        assert_close(
            q(0.5, "MPa").as_pressure().unwrap().get::<pascal>(),
            5e5,
            "MPa",
        );
        assert_close(
            q(30.0, "psi").as_pressure().unwrap().get::<pascal>(),
            206842.718795,
            "psi",
        );
        assert_close(
            q(25.0, "nm").as_length().unwrap().get::<meter>(),
            25e-9,
            "nm",
        );
        assert_close(
            q(5.0, "mg").as_mass().unwrap().get::<kilogram>(),
            5e-6,
            "mg",
        );
        assert_close(q(2.0, "h").as_time().unwrap().get::<second>(), 7200.0, "h");
        assert_close(
            q(4.0, "mA").as_electric_current().unwrap().get::<ampere>(),
            4e-3,
            "mA",
        );
        assert_close(
            q(10.0, "uV").as_voltage().unwrap().get::<volt>(),
            1e-5,
            "uV",
        );
        assert_close(
            q(1.0, "kΩ").as_resistance().unwrap().get::<ohm>(),
            1e3,
            "kΩ",
        );
        assert_close(
            q(1.0, "GHz").as_frequency().unwrap().get::<hertz>(),
            1e9,
            "GHz",
        );
        assert_close(q(3.0, "kN").as_force().unwrap().get::<newton>(), 3e3, "kN");
        assert_close(
            q(45.0, "%RH").as_ratio().unwrap().get::<ratio>(),
            0.45,
            "%RH",
        );
        assert!(q(1.0, "m").as_mass().is_none());
        assert!(q(1.0, "kg").as_ratio().is_none());
    }

    #[test]
    fn uncertainties_restate_as_intervals() {
        let u = Quantity::new(0.9, "degF").unwrap();
        let in_celsius = u.interval_in(&unit("degC")).unwrap();
        assert_close(in_celsius.value, 0.5, "0.9 °F as °C interval");
        assert_eq!(in_celsius.unit.symbol, "degC");
        let point = Quantity::new(212.0, "°F").unwrap();
        assert_close(point.point_in(&unit("℃")).unwrap().value, 100.0, "212 °F");
        assert!(u.interval_in(&unit("m")).is_none());
        assert_close(
            Quantity::new(1.0, "bar")
                .unwrap()
                .interval_in(&unit("kPa"))
                .unwrap()
                .value,
            100.0,
            "bar in kPa",
        );
    }

    #[test]
    fn quantity_new_names_the_problem() {
        assert!(Quantity::new(f64::NAN, "m").unwrap_err().contains("finite"));
        assert!(Quantity::new(f64::INFINITY, "m")
            .unwrap_err()
            .contains("finite"));
        assert!(Quantity::new(1.0, "furlong")
            .unwrap_err()
            .contains("furlong"));
        assert!(Quantity::new(1.0, "").unwrap_err().contains("empty"));
        let q = Quantity::new(0.5, "MPa").unwrap();
        assert_eq!(q.to_string(), "0.5 MPa");
        assert_eq!(
            QuantityJson::from(&q),
            QuantityJson {
                value: 0.5,
                unit: "MPa".into()
            }
        );
        assert_eq!(Unit::one(), unit("1"));
    }

    #[test]
    fn check_quantity_names_field_and_expected_dimension() {
        let pressure = Some(QuantityKind::Pressure.dimension());
        let j = |value: f64, unit: &str| QuantityJson {
            value,
            unit: unit.to_string(),
        };

        let ok = check_quantity(&j(0.5, "MPa"), "range.min", pressure).unwrap();
        assert_close(ok.interval_si(), 5e5, "MPa");
        assert_eq!(ok.unit.symbol, "MPa");
        assert!(check_quantity(&j(7.0, "mm"), "x", None).is_ok());

        let e = check_quantity(&j(f64::NAN, "MPa"), "range.min", pressure).unwrap_err();
        assert_eq!(e.field, "range.min");
        assert!(e.message.contains("finite"), "{}", e.message);

        let e = check_quantity(&j(1.0, "mm"), "range.min", pressure).unwrap_err();
        assert_eq!(e.field, "range.min.unit");
        assert!(e.message.contains("pressure (kg·m⁻¹·s⁻²)"), "{}", e.message);
        assert!(e.message.contains("length (m)"), "{}", e.message);

        let e = check_quantity(
            &j(1.0, "Pascal"),
            "points[3].budget.components[0]",
            pressure,
        )
        .unwrap_err();
        assert_eq!(e.field, "points[3].budget.components[0].unit");
        assert!(e.message.contains("'Pascal'"), "{}", e.message);
        assert!(e.message.contains("pressure"), "{}", e.message);

        let e = check_quantity(&j(1.0, ""), "a", None).unwrap_err();
        assert_eq!(e.field, "a.unit");

        // Relative humidity is dimension one, so plain % is accepted where %RH is expected.
        let rh = Some(QuantityKind::RelativeHumidity.dimension());
        assert!(check_quantity(&j(45.0, "%RH"), "environment.humidity", rh).is_ok());
        assert!(check_quantity(&j(45.0, "%"), "environment.humidity", rh).is_ok());
        let e = check_quantity(&j(45.0, "degC"), "environment.humidity", rh).unwrap_err();
        assert!(e.message.contains("dimensionless (1)"), "{}", e.message);
    }

    #[test]
    fn every_catalogued_symbol_with_every_prefix_parses_to_its_factor() {
        let atoms = every_atom();
        assert!(atoms.len() > 500, "only {} atoms", atoms.len());
        for (symbol, factor, dimension, offset) in atoms {
            let u = unit(&symbol);
            assert_eq!(u.dimension, dimension, "{symbol}");
            assert_close(u.factor, factor, &symbol);
            assert_eq!(u.offset, offset, "{symbol}");
            assert_eq!(parse_unit(&symbol), Ok(u), "{symbol} parses the same twice");
        }
    }

    // --- properties -------------------------------------------------------------------------

    fn atom_strategy() -> impl Strategy<Value = (String, f64, Dimension, f64)> {
        proptest::sample::select(every_atom())
    }

    /// Random pieces of unit syntax, so that the fuzzing reaches exponents, parentheses and
    /// operators instead of dying on the first unknown letter.
    fn unit_soup() -> impl Strategy<Value = String> {
        let pieces = vec![
            "m",
            "k",
            "Pa",
            "degC",
            "°",
            "C",
            "℃",
            "%RH",
            "%",
            "µ",
            "μ",
            "Ω",
            "Ω",
            "ohm",
            "1",
            "0",
            "2",
            "9",
            "^",
            "-",
            "−",
            "+",
            "²",
            "³",
            "⁻",
            "¹",
            "(",
            ")",
            "/",
            "*",
            "·",
            " ",
            "da",
            "Q",
            "q",
            "g",
            "K",
            "s",
            "99999999999",
            "^127",
            "^-128",
            "\u{0}",
            "é",
            "é",
        ];
        proptest::collection::vec(proptest::sample::select(pieces), 0..24).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn linear_conversions_round_trip(
            (symbol, _, _, offset) in atom_strategy(),
            mantissa in -1.0e3f64..1.0e3,
            exponent in -12i32..12,
        ) {
            prop_assume!(offset == 0.0);
            let u = unit(&symbol);
            let v = mantissa * 10f64.powi(exponent);
            let tolerance = 1e-12 * v.abs();
            prop_assert!((u.point_from_si(u.point_to_si(v)) - v).abs() <= tolerance);
            prop_assert!((u.interval_from_si(u.interval_to_si(v)) - v).abs() <= tolerance);
        }

        #[test]
        fn temperature_scales_round_trip(
            symbol in proptest::sample::select(vec!["degC", "°C", "℃", "degF", "°F"]),
            v in -500.0f64..1.0e5,
        ) {
            let u = unit(symbol);
            let back = u.point_from_si(u.point_to_si(v));
            prop_assert!(((back - v) * u.factor).abs() <= 1e-9, "{} -> {}", v, back);
            let back = u.interval_from_si(u.interval_to_si(v));
            prop_assert!((back - v).abs() <= 1e-12 * v.abs());
        }

        #[test]
        fn compound_units_compose_their_parts(
            parts in proptest::collection::vec(
                (atom_strategy(), -4i32..=4, any::<bool>()),
                1..4,
            ),
        ) {
            let mut text = String::new();
            let mut expected_dimension = Dimension::DIMENSIONLESS;
            let mut expected_factor = 1.0f64;
            for (i, ((symbol, factor, dimension, _), power, divide)) in parts.iter().enumerate() {
                let power = if *power == 0 { 1 } else { *power };
                let divide = *divide && i > 0;
                if i > 0 {
                    text.push(if divide { '/' } else { '*' });
                }
                text.push_str(symbol);
                if power != 1 {
                    text.push_str(&format!("^{power}"));
                }
                let d = dimension.checked_powi(power).unwrap();
                let f = factor.powi(power);
                if divide {
                    expected_dimension = expected_dimension.checked_div(d).unwrap();
                    expected_factor /= f;
                } else {
                    expected_dimension = expected_dimension.checked_mul(d).unwrap();
                    expected_factor *= f;
                }
            }
            match parse_unit(&text) {
                Ok(u) => {
                    prop_assert_eq!(u.dimension, expected_dimension, "{}", text);
                    prop_assert!(
                        (u.factor - expected_factor).abs() <= 1e-12 * expected_factor,
                        "{}: {} vs {}", text, u.factor, expected_factor
                    );
                    prop_assert_eq!(parse_unit(&text), Ok(u));
                }
                // Only a factor outside f64's range (e.g. Qm^4*Qm^4*Qm^4) may refuse it.
                Err(e) => {
                    prop_assert!(matches!(e, UnitError::Malformed(_)), "{}: {:?}", text, e);
                    prop_assert!(
                        text.chars().count() > MAX_SYMBOL_CHARS
                            || !expected_factor.is_normal(),
                        "{}: {:?}", text, e
                    );
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn parser_never_panics_on_any_line(s in ".*") {
            let _ = parse_unit(&s);
        }

        #[test]
        fn parser_never_panics_on_any_string(s in any::<String>()) {
            let _ = parse_unit(&s);
        }

        #[test]
        fn parser_never_panics_on_unit_soup(s in unit_soup()) {
            if let Ok(u) = parse_unit(&s) {
                prop_assert!(u.factor.is_normal() && u.factor > 0.0, "{}: {:?}", s, u);
                prop_assert!(u.offset == 0.0 || u.is_affine());
            }
        }
    }
}

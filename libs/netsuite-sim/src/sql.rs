//! SuiteQL → SQLite: parse with `sqlparser`, check every table and column against the
//! simulated schema the way NetSuite reports unknown ones, and translate the Oracle
//! and SuiteQL functions the reference names (`TO_CHAR`, `TO_DATE`, `NVL`, `SYSDATE`,
//! `BUILTIN.DF`, `BUILTIN.CF`, date arithmetic) into SQLite plus the simulator's own
//! `ns_*` functions (see [`crate::functions`]).

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, ObjectNamePart, Select,
    SelectItem, Statement, TableFactor, Value, ValueWithSpan, Visit, VisitMut, Visitor, VisitorMut,
};
use sqlparser::dialect::OracleDialect;
use sqlparser::parser::Parser;

use crate::db::Schema;

/// Most items one `IN (…)` list may hold in SuiteQL.
pub const MAX_IN_LIST: usize = 1000;

/// A query NetSuite would refuse; the text is the part after "Search error occurred: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Syntax NetSuite does not accept (or the simulator does not support).
    #[error("Invalid or unsupported search.")]
    Unsupported(String),
    /// A table that does not exist.
    #[error("Record '{0}' was not found.")]
    UnknownRecord(String),
    /// A qualified column that does not exist on its table.
    #[error(
        "Field '{field}' for record '{record}' was not found. Reason: NOT_EXPOSED - Not available for channel SUITEQL"
    )]
    UnknownField {
        /// The column as written.
        field: String,
        /// The table.
        record: String,
    },
    /// An unqualified name, or a qualifier, that names nothing.
    #[error("Unknown identifier '{0}'.")]
    UnknownIdentifier(String),
    /// An `IN` list longer than [`MAX_IN_LIST`].
    #[error("The IN list may not have more than 1000 items.")]
    InListTooLong,
}

/// A query ready for SQLite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledQuery {
    /// The translated SQL.
    pub sql: String,
    /// How many `?` placeholders it has.
    pub placeholders: usize,
}

#[derive(Debug, Clone)]
enum Source {
    Table(String),
    Derived,
}

const PSEUDO_COLUMNS: [&str; 4] = ["sysdate", "current_date", "current_timestamp", "systimestamp"];

/// Parses, checks and translates one SuiteQL query.
pub fn compile(query: &str, schema: &Schema) -> Result<CompiledQuery, QueryError> {
    let mut statements =
        Parser::parse_sql(&OracleDialect, query).map_err(|error| QueryError::Unsupported(error.to_string()))?;
    if statements.len() != 1 {
        return Err(QueryError::Unsupported("exactly one statement is allowed".to_owned()));
    }
    let mut statement = statements.remove(0);
    let Statement::Query(query_ast) = &statement else {
        return Err(QueryError::Unsupported("only SELECT is allowed".to_owned()));
    };
    if query_ast.with.is_some() {
        return Err(QueryError::Unsupported("WITH is not supported".to_owned()));
    }

    let mut scope = ScopeCollector {
        schema,
        sources: HashMap::new(),
        tables: Vec::new(),
        select_aliases: HashSet::new(),
        placeholders: 0,
        error: None,
    };
    let _ = statement.visit(&mut scope);
    if let Some(error) = scope.error {
        return Err(error);
    }
    let mut checker = IdentifierChecker { scope: &scope };
    if let ControlFlow::Break(error) = statement.visit(&mut checker) {
        return Err(error);
    }
    let mut rewriter = Rewriter {
        scope: &scope,
        error: None,
    };
    let _ = VisitMut::visit(&mut statement, &mut rewriter);
    if let Some(error) = rewriter.error {
        return Err(error);
    }
    Ok(CompiledQuery {
        sql: statement.to_string(),
        placeholders: scope.placeholders,
    })
}

struct ScopeCollector<'s> {
    schema: &'s Schema,
    sources: HashMap<String, Source>,
    tables: Vec<String>,
    select_aliases: HashSet<String>,
    placeholders: usize,
    error: Option<QueryError>,
}

impl ScopeCollector<'_> {
    fn table_of(&self, qualifier: &str) -> Option<&Source> {
        self.sources.get(&qualifier.to_ascii_lowercase())
    }

    fn has_column(&self, table: &str, column: &str) -> bool {
        self.schema
            .tables
            .get(table)
            .is_some_and(|columns| columns.contains(column))
    }

    fn is_date_column(&self, table: &str, column: &str) -> bool {
        self.schema
            .date_columns
            .contains(&(table.to_owned(), column.to_owned()))
    }

    /// The table an unqualified column belongs to, when one of the query's tables has it.
    fn unqualified_table(&self, column: &str) -> Option<&str> {
        self.tables
            .iter()
            .find(|table| self.has_column(table, column))
            .map(String::as_str)
    }
}

fn object_name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => ident.value.clone(),
            other => other.to_string(),
        })
        .collect()
}

impl Visitor for ScopeCollector<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        match factor {
            TableFactor::Table { name, alias, args, .. } => {
                let parts = object_name_parts(name);
                let table = parts.join(".").to_ascii_lowercase();
                if args.is_some() || parts.len() != 1 || !self.schema.tables.contains_key(&table) {
                    self.error.get_or_insert(QueryError::UnknownRecord(parts.join(".")));
                    return ControlFlow::Break(());
                }
                self.sources.insert(table.clone(), Source::Table(table.clone()));
                if let Some(alias) = alias {
                    self.sources
                        .insert(alias.name.value.to_ascii_lowercase(), Source::Table(table.clone()));
                }
                self.tables.push(table);
            }
            TableFactor::Derived { alias, .. } => {
                if let Some(alias) = alias {
                    self.sources
                        .insert(alias.name.value.to_ascii_lowercase(), Source::Derived);
                }
            }
            TableFactor::NestedJoin { .. } => {}
            other => {
                self.error
                    .get_or_insert(QueryError::Unsupported(format!("unsupported table expression {other}")));
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        for item in &select.projection {
            if let SelectItem::ExprWithAlias { alias, .. } = item {
                self.select_aliases.insert(alias.value.to_ascii_lowercase());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_value(&mut self, value: &ValueWithSpan) -> ControlFlow<()> {
        if matches!(value.value, Value::Placeholder(_)) {
            self.placeholders += 1;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::InList { list, .. } = expr
            && list.len() > MAX_IN_LIST
        {
            self.error.get_or_insert(QueryError::InListTooLong);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}

struct IdentifierChecker<'a, 's> {
    scope: &'a ScopeCollector<'s>,
}

impl Visitor for IdentifierChecker<'_, '_> {
    type Break = QueryError;

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<QueryError> {
        let scope = self.scope;
        match expr {
            Expr::Identifier(ident) => {
                let name = ident.value.to_ascii_lowercase();
                let known = PSEUDO_COLUMNS.contains(&name.as_str())
                    || scope.unqualified_table(&name).is_some()
                    || scope.select_aliases.contains(&name)
                    || scope.sources.values().any(|source| matches!(source, Source::Derived));
                if !known {
                    return ControlFlow::Break(QueryError::UnknownIdentifier(ident.value.clone()));
                }
            }
            Expr::CompoundIdentifier(parts) => {
                let written = parts.iter().map(|p| p.value.as_str()).collect::<Vec<_>>().join(".");
                let [qualifier, column] = parts.as_slice() else {
                    return ControlFlow::Break(QueryError::UnknownIdentifier(written));
                };
                match scope.table_of(&qualifier.value) {
                    None => return ControlFlow::Break(QueryError::UnknownIdentifier(written)),
                    Some(Source::Derived) => {}
                    Some(Source::Table(table)) => {
                        if !scope.has_column(table, &column.value.to_ascii_lowercase()) {
                            return ControlFlow::Break(QueryError::UnknownField {
                                field: column.value.clone(),
                                record: table.clone(),
                            });
                        }
                    }
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

struct Rewriter<'a, 's> {
    scope: &'a ScopeCollector<'s>,
    error: Option<QueryError>,
}

fn parse_expr(text: &str) -> Result<Expr, QueryError> {
    Parser::new(&OracleDialect)
        .try_with_sql(text)
        .and_then(|mut parser| parser.parse_expr())
        .map_err(|error| QueryError::Unsupported(format!("internal rewrite failed: {error}")))
}

fn function_args(args: &FunctionArguments) -> Vec<String> {
    match args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|arg| match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => expr.to_string(),
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn first_arg(args: &FunctionArguments) -> Option<&Expr> {
    match args {
        FunctionArguments::List(list) => match list.args.first() {
            Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(expr))) => Some(expr),
            _ => None,
        },
        _ => None,
    }
}

const DATE_FUNCTIONS: [&str; 5] = [
    "ns_sysdate",
    "ns_current_date",
    "ns_to_date",
    "ns_trunc_date",
    "ns_date_add",
];

impl Rewriter<'_, '_> {
    /// `(table, column, qualifier prefix)` of a plain column reference.
    fn column_of(&self, expr: &Expr) -> Option<(String, String, String)> {
        match expr {
            Expr::Identifier(ident) => {
                let column = ident.value.to_ascii_lowercase();
                let table = self.scope.unqualified_table(&column)?;
                Some((table.to_owned(), column, String::new()))
            }
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => match self.scope.table_of(&parts[0].value)? {
                Source::Table(table) => Some((
                    table.clone(),
                    parts[1].value.to_ascii_lowercase(),
                    format!("{}.", parts[0]),
                )),
                Source::Derived => None,
            },
            _ => None,
        }
    }

    fn is_date(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Function(function) => {
                let name = function.name.to_string().to_ascii_lowercase();
                DATE_FUNCTIONS.contains(&name.as_str())
            }
            Expr::Nested(inner) => self.is_date(inner),
            other => self
                .column_of(other)
                .is_some_and(|(table, column, _)| self.scope.is_date_column(&table, &column)),
        }
    }

    fn display_field(&self, arg: &Expr) -> String {
        let text = arg.to_string();
        let Some((table, column, prefix)) = self.column_of(arg) else {
            return text;
        };
        match (table.as_str(), column.as_str()) {
            ("transaction", "status") => format!("ns_status_text({prefix}\"type\", {text})"),
            ("transaction", "type") => format!("ns_type_text({text})"),
            (_, "terms") => format!("(SELECT name FROM \"term\" WHERE id = {text})"),
            (_, "currency") => format!("(SELECT name FROM \"currency\" WHERE id = {text})"),
            (_, "entity" | "company" | "parent" | "toplevelparent") => {
                format!("(SELECT entityid || ' ' || companyname FROM \"customer\" WHERE id = {text})")
            }
            ("contact", "contactrole") => format!("(SELECT name FROM \"contactrole\" WHERE id = {text})"),
            ("customer", "creditholdoverride") => {
                format!("CASE {text} WHEN 'AUTO' THEN 'Auto' WHEN 'ON' THEN 'On' WHEN 'OFF' THEN 'Off' END")
            }
            (_, "subsidiary") => format!("CASE WHEN {text} IS NULL THEN NULL ELSE 'Parent Company' END"),
            _ => text,
        }
    }

    fn rewrite(&self, expr: &Expr) -> Result<Option<Expr>, QueryError> {
        match expr {
            Expr::Identifier(ident) => {
                let name = ident.value.to_ascii_lowercase();
                match name.as_str() {
                    "sysdate" | "current_timestamp" | "systimestamp" => parse_expr("ns_sysdate()").map(Some),
                    "current_date" => parse_expr("ns_current_date()").map(Some),
                    _ => Ok(Some(Expr::Identifier(quoted(ident)))),
                }
            }
            Expr::CompoundIdentifier(parts) => {
                let mut parts = parts.clone();
                if let Some(last) = parts.last_mut() {
                    *last = quoted(last);
                }
                Ok(Some(Expr::CompoundIdentifier(parts)))
            }
            Expr::Function(function) => {
                let name = function.name.to_string().to_ascii_lowercase();
                let args = function_args(&function.args);
                let call = |target: &str| parse_expr(&format!("{target}({})", args.join(", "))).map(Some);
                match name.as_str() {
                    "to_char" => call("ns_to_char"),
                    "to_date" | "to_timestamp" => call("ns_to_date"),
                    "nvl" => call("ifnull"),
                    "sysdate" | "current_timestamp" | "systimestamp" => parse_expr("ns_sysdate()").map(Some),
                    "current_date" => parse_expr("ns_current_date()").map(Some),
                    "nvl2" if args.len() == 3 => parse_expr(&format!(
                        "CASE WHEN {} IS NOT NULL THEN {} ELSE {} END",
                        args[0], args[1], args[2]
                    ))
                    .map(Some),
                    "trunc" => match first_arg(&function.args) {
                        Some(arg) if self.is_date(arg) => call("ns_trunc_date"),
                        _ => call("ns_trunc_number"),
                    },
                    "builtin.df" => match first_arg(&function.args) {
                        Some(arg) => parse_expr(&self.display_field(arg)).map(Some),
                        None => Err(QueryError::Unsupported("BUILTIN.DF needs an argument".to_owned())),
                    },
                    "builtin.cf" => match first_arg(&function.args).and_then(|arg| self.column_of(arg)) {
                        Some((table, column, prefix)) if table == "transaction" && column == "status" => {
                            parse_expr(&format!("({prefix}\"type\" || ':' || {prefix}\"status\")")).map(Some)
                        }
                        _ => first_arg(&function.args)
                            .map(|arg| Some(arg.clone()))
                            .ok_or_else(|| QueryError::Unsupported("BUILTIN.CF needs an argument".to_owned())),
                    },
                    other if other.starts_with("builtin.") => Err(QueryError::Unsupported(format!(
                        "{other} is not supported by the simulator"
                    ))),
                    _ => Ok(None),
                }
            }
            Expr::BinaryOp { left, op, right } if matches!(op, BinaryOperator::Plus | BinaryOperator::Minus) => {
                let (left_date, right_date) = (self.is_date(left), self.is_date(right));
                let sign = if *op == BinaryOperator::Minus { "-" } else { "" };
                match (left_date, right_date) {
                    (true, true) if *op == BinaryOperator::Minus => {
                        parse_expr(&format!("(julianday({left}) - julianday({right}))")).map(Some)
                    }
                    (true, false) => parse_expr(&format!("ns_date_add({left}, {sign}({right}))")).map(Some),
                    (false, true) if *op == BinaryOperator::Plus => {
                        parse_expr(&format!("ns_date_add({right}, ({left}))")).map(Some)
                    }
                    _ => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }
}

fn quoted(ident: &Ident) -> Ident {
    // Quoting keeps SQLite keywords such as `transaction` usable as names; identifiers
    // were checked against the schema already, so a quoted name never silently turns
    // into SQLite's string-literal fallback.
    Ident::with_quote('"', ident.value.to_ascii_lowercase())
}

impl VisitorMut for Rewriter<'_, '_> {
    type Break = ();

    fn pre_visit_relation(&mut self, relation: &mut ObjectName) -> ControlFlow<()> {
        for part in &mut relation.0 {
            if let ObjectNamePart::Identifier(ident) = part {
                *ident = quoted(ident);
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match self.rewrite(expr) {
            Ok(Some(replacement)) => *expr = replacement,
            Ok(None) => {}
            Err(error) => {
                self.error.get_or_insert(error);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        // NetSuite names an unaliased computed column `expr1`, `expr2`, … in order.
        let mut counter = 0;
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(expr) = item
                && !matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
            {
                counter += 1;
                *item = SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias: Ident::new(format!("expr{counter}")),
                };
            }
        }
        ControlFlow::Continue(())
    }
}

//! The Data API's errors: `{"errors":[{"message", "errorCode", "id", "family", "scope", "title"}]}`,
//! answered with HTTP 200 (a command error is not a transport error); only authentication
//! failures (401) and server failures (500) change the status.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// The error codes the gateway answers with, named as in the Data API's `ErrorCodeV1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    CollectionNotExist,
    CommandFieldInvalid,
    CommandUnknown,
    ConcurrencyFailure,
    DatasetTooBig,
    DocumentAlreadyExists,
    DocumentReplaceDifferentDocid,
    ExistingCollectionDifferentSettings,
    ExistingTableNotDataApiCollection,
    FilterMultipleIdFilter,
    InvalidCreateCollectionOptions,
    InvalidFilterExpression,
    InvalidRequest,
    InvalidRequestNotJson,
    InvalidRequestStructureMismatch,
    InvalidRequestUnknownField,
    InvalidSortClause,
    InvalidSortClausePath,
    InvalidSortClauseValue,
    KeyspaceDoesNotExist,
    ServerInternalError,
    ServerQueryExecutionFailure,
    ShredBadDocidEmptyString,
    ShredBadDocidType,
    ShredBadDocumentType,
    ShredBadDocumentVectorType,
    ShredBadEjsonValue,
    ShredBadVectorSize,
    ShredBadVectorValue,
    ShredDocKeyNameViolation,
    UnauthenticatedRequest,
    UnsupportedFilterDataType,
    UnsupportedFilterOperation,
    UnsupportedProjectionParam,
    UnsupportedUpdateDataType,
    UnsupportedUpdateOperation,
    UnsupportedUpdateOperationModifier,
    UnsupportedUpdateOperationParam,
    UnsupportedUpdateOperationPath,
    UnsupportedUpdateOperationTarget,
    VectorSearchInvalidFunctionName,
    VectorSearchNotSupported,
    VectorSearchTooBigValue,
    VectorSearchUnrecognizedSourceModelName,
    VectorSearchUsageError,
    VectorSizeMismatch,
}

impl Code {
    /// The `errorCode` string.
    pub fn name(self) -> &'static str {
        match self {
            Code::CollectionNotExist => "COLLECTION_NOT_EXIST",
            Code::CommandFieldInvalid => "COMMAND_FIELD_INVALID",
            Code::CommandUnknown => "COMMAND_UNKNOWN",
            Code::ConcurrencyFailure => "CONCURRENCY_FAILURE",
            Code::DatasetTooBig => "DATASET_TOO_BIG",
            Code::DocumentAlreadyExists => "DOCUMENT_ALREADY_EXISTS",
            Code::DocumentReplaceDifferentDocid => "DOCUMENT_REPLACE_DIFFERENT_DOCID",
            Code::ExistingCollectionDifferentSettings => "EXISTING_COLLECTION_DIFFERENT_SETTINGS",
            Code::ExistingTableNotDataApiCollection => "EXISTING_TABLE_NOT_DATA_API_COLLECTION",
            Code::FilterMultipleIdFilter => "FILTER_MULTIPLE_ID_FILTER",
            Code::InvalidCreateCollectionOptions => "INVALID_CREATE_COLLECTION_OPTIONS",
            Code::InvalidFilterExpression => "INVALID_FILTER_EXPRESSION",
            Code::InvalidRequest => "INVALID_REQUEST",
            Code::InvalidRequestNotJson => "INVALID_REQUEST_NOT_JSON",
            Code::InvalidRequestStructureMismatch => "INVALID_REQUEST_STRUCTURE_MISMATCH",
            Code::InvalidRequestUnknownField => "INVALID_REQUEST_UNKNOWN_FIELD",
            Code::InvalidSortClause => "INVALID_SORT_CLAUSE",
            Code::InvalidSortClausePath => "INVALID_SORT_CLAUSE_PATH",
            Code::InvalidSortClauseValue => "INVALID_SORT_CLAUSE_VALUE",
            Code::KeyspaceDoesNotExist => "KEYSPACE_DOES_NOT_EXIST",
            Code::ServerInternalError => "SERVER_INTERNAL_ERROR",
            Code::ServerQueryExecutionFailure => "SERVER_QUERY_EXECUTION_FAILURE",
            Code::ShredBadDocidEmptyString => "SHRED_BAD_DOCID_EMPTY_STRING",
            Code::ShredBadDocidType => "SHRED_BAD_DOCID_TYPE",
            Code::ShredBadDocumentType => "SHRED_BAD_DOCUMENT_TYPE",
            Code::ShredBadDocumentVectorType => "SHRED_BAD_DOCUMENT_VECTOR_TYPE",
            Code::ShredBadEjsonValue => "SHRED_BAD_EJSON_VALUE",
            Code::ShredBadVectorSize => "SHRED_BAD_VECTOR_SIZE",
            Code::ShredBadVectorValue => "SHRED_BAD_VECTOR_VALUE",
            Code::ShredDocKeyNameViolation => "SHRED_DOC_KEY_NAME_VIOLATION",
            Code::UnauthenticatedRequest => "UNAUTHENTICATED_REQUEST",
            Code::UnsupportedFilterDataType => "UNSUPPORTED_FILTER_DATA_TYPE",
            Code::UnsupportedFilterOperation => "UNSUPPORTED_FILTER_OPERATION",
            Code::UnsupportedProjectionParam => "UNSUPPORTED_PROJECTION_PARAM",
            Code::UnsupportedUpdateDataType => "UNSUPPORTED_UPDATE_DATA_TYPE",
            Code::UnsupportedUpdateOperation => "UNSUPPORTED_UPDATE_OPERATION",
            Code::UnsupportedUpdateOperationModifier => "UNSUPPORTED_UPDATE_OPERATION_MODIFIER",
            Code::UnsupportedUpdateOperationParam => "UNSUPPORTED_UPDATE_OPERATION_PARAM",
            Code::UnsupportedUpdateOperationPath => "UNSUPPORTED_UPDATE_OPERATION_PATH",
            Code::UnsupportedUpdateOperationTarget => "UNSUPPORTED_UPDATE_OPERATION_TARGET",
            Code::VectorSearchInvalidFunctionName => "VECTOR_SEARCH_INVALID_FUNCTION_NAME",
            Code::VectorSearchNotSupported => "VECTOR_SEARCH_NOT_SUPPORTED",
            Code::VectorSearchTooBigValue => "VECTOR_SEARCH_TOO_BIG_VALUE",
            Code::VectorSearchUnrecognizedSourceModelName => "VECTOR_SEARCH_UNRECOGNIZED_SOURCE_MODEL_NAME",
            Code::VectorSearchUsageError => "VECTOR_SEARCH_USAGE_ERROR",
            Code::VectorSizeMismatch => "VECTOR_SIZE_MISMATCH",
        }
    }

    /// The code's fixed description (`title`), which also starts most messages.
    pub fn title(self) -> &'static str {
        match self {
            Code::CollectionNotExist => "Collection does not exist, collection name",
            Code::CommandFieldInvalid => "Request invalid",
            Code::CommandUnknown => "Provided command unknown",
            Code::ConcurrencyFailure => "Unable to complete transaction due to concurrent transactions",
            Code::DatasetTooBig => "Response data set too big to be sorted, add more filters",
            Code::DocumentAlreadyExists => "Document already exists with the given _id",
            Code::DocumentReplaceDifferentDocid => {
                "The replace document and document resolved using filter have different _id"
            }
            Code::ExistingCollectionDifferentSettings => "Collection already exists",
            Code::ExistingTableNotDataApiCollection => "Existing table is not a valid Data API collection",
            Code::FilterMultipleIdFilter => {
                "Cannot have more than one _id equals filter clause: use $in operator instead"
            }
            Code::InvalidCreateCollectionOptions => "The provided options are invalid",
            Code::InvalidFilterExpression => "Invalid filter expression",
            Code::InvalidRequest => "Request not supported by the data store",
            Code::InvalidRequestNotJson => "Request invalid, cannot parse as JSON",
            Code::InvalidRequestStructureMismatch => "Request invalid, mismatching JSON structure",
            Code::InvalidRequestUnknownField => "Request invalid, unrecognized JSON field",
            Code::InvalidSortClause => "Invalid sort clause",
            Code::InvalidSortClausePath => "Invalid sort clause path",
            Code::InvalidSortClauseValue => "Invalid sort clause value",
            Code::KeyspaceDoesNotExist => "The provided keyspace does not exist",
            Code::ServerInternalError => "Server internal error",
            Code::ServerQueryExecutionFailure => "Database query execution failed",
            Code::ShredBadDocidEmptyString => "Bad value for '_id' property: empty String not allowed",
            Code::ShredBadDocidType => "Bad type for '_id' property",
            Code::ShredBadDocumentType => "Bad document type to shred",
            Code::ShredBadDocumentVectorType => "Bad $vector document type to shred ",
            Code::ShredBadEjsonValue => "Bad JSON Extension value",
            Code::ShredBadVectorSize => "$vector value can't be empty",
            Code::ShredBadVectorValue => "$vector value needs to be array of numbers",
            Code::ShredDocKeyNameViolation => "Document field name invalid",
            Code::UnauthenticatedRequest => "UNAUTHENTICATED: Invalid token",
            Code::UnsupportedFilterDataType => "Unsupported filter data type",
            Code::UnsupportedFilterOperation => "Unsupported filter operator",
            Code::UnsupportedProjectionParam => "Unsupported projection parameter",
            Code::UnsupportedUpdateDataType => "Unsupported update data type",
            Code::UnsupportedUpdateOperation => "Unsupported update operation",
            Code::UnsupportedUpdateOperationModifier => "Unsupported update operation modifier",
            Code::UnsupportedUpdateOperationParam => "Unsupported update operation parameter",
            Code::UnsupportedUpdateOperationPath => "Unsupported update operation path",
            Code::UnsupportedUpdateOperationTarget => "Unsupported target JSON value for update operation",
            Code::VectorSearchInvalidFunctionName => "Invalid vector search function name",
            Code::VectorSearchNotSupported => "Vector search is not enabled for the collection",
            Code::VectorSearchTooBigValue => "Vector embedding property '$vector' length too big",
            Code::VectorSearchUnrecognizedSourceModelName => "Unrecognized vector search source model name",
            Code::VectorSearchUsageError => "Vector search can't be used with other sort clause",
            Code::VectorSizeMismatch => "Length of vector parameter different from declared '$vector' dimension",
        }
    }

    /// The error's family, as the Data API (v1.0.34) classifies its `ErrorCodeV1` codes: `SERVER`
    /// for codes named `SERVER_…` and a fixed few, `REQUEST` for the rest.
    pub fn family(self) -> &'static str {
        let server = matches!(
            self,
            Code::ConcurrencyFailure | Code::VectorSearchNotSupported | Code::UnauthenticatedRequest
        );
        if server || self.name().starts_with("SERVER") {
            "SERVER"
        } else {
            "REQUEST"
        }
    }

    /// The area of the request at fault: a fixed few by code, the rest from words in the code's
    /// name, in the Data API's order ("" when none applies).
    pub fn scope(self) -> &'static str {
        match self {
            Code::ServerInternalError => return "",
            Code::InvalidCreateCollectionOptions
            | Code::VectorSearchInvalidFunctionName
            | Code::VectorSearchTooBigValue => return "SCHEMA",
            Code::VectorSearchUsageError => return "SORT",
            _ => {}
        }
        let name = self.name();
        let words: [(&str, &str); 8] = [
            ("SCHEMA", "SCHEMA"),
            ("FILTER", "FILTER"),
            ("SORT", "SORT"),
            ("INDEX", "INDEX"),
            ("UPDATE", "UPDATE"),
            ("SHRED", "DOCUMENT"),
            ("DOCUMENT", "DOCUMENT"),
            ("PROJECTION", "PROJECTION"),
        ];
        words
            .iter()
            .find(|(word, _)| name.contains(word))
            .map_or("", |(_, scope)| scope)
    }
}

/// One error of a command: its code, message and HTTP status (200 unless authentication or the
/// server failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataApiError {
    pub code: Code,
    pub message: String,
    pub status: StatusCode,
}

impl DataApiError {
    /// `"{title}: {detail}"`, the Data API's message shape.
    pub fn new(code: Code, detail: impl std::fmt::Display) -> Self {
        Self {
            code,
            message: format!("{}: {detail}", code.title()),
            status: StatusCode::OK,
        }
    }

    /// The code's title alone as the message.
    pub fn plain(code: Code) -> Self {
        Self {
            code,
            message: code.title().to_string(),
            status: StatusCode::OK,
        }
    }

    /// A message of its own (not prefixed with the title).
    pub fn with_message(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status: StatusCode::OK,
        }
    }

    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn collection_not_exist(collection: &str) -> Self {
        Self::new(Code::CollectionNotExist, collection)
    }

    /// A failure of Cassandra (500, as the Data API answers driver failures).
    pub fn database(message: impl std::fmt::Display) -> Self {
        Self::new(Code::ServerQueryExecutionFailure, message).status(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The error object of `errors[]`.
    pub fn to_json(&self) -> Value {
        json!({
            "message": self.message,
            "errorCode": self.code.name(),
            "id": uuid::Uuid::new_v4().to_string(),
            "family": self.code.family(),
            "scope": self.code.scope(),
            "title": self.code.title(),
        })
    }
}

impl From<crate::gateway::cql::CqlError> for DataApiError {
    fn from(error: crate::gateway::cql::CqlError) -> Self {
        Self::database(error.message)
    }
}

pub type Result<T, E = DataApiError> = std::result::Result<T, E>;

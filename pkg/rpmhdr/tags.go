package rpmhdr

// Tags the readers of headers share (rpm's include/rpm/rpmtag.h, rpm 4.18).
const (
	TagHeaderImage      = 61  // region tag of old signature headers' trailers
	TagHeaderSignatures = 62  // region tag of the signature header
	TagHeaderImmutable  = 63  // region tag of the main header
	TagI18NTable        = 100 // locales of the i18n strings; the lowest data tag

	// The signature header's tags as an installed header holds them
	// (RPMTAG_SIG_BASE+n).
	TagSigPGP       = 259
	TagSigMD5       = 261
	TagSigGPG       = 262
	TagDSAHeader    = 267
	TagRSAHeader    = 268
	TagSHA256Header = 273

	TagName           = 1000
	TagVersion        = 1001
	TagRelease        = 1002
	TagEpoch          = 1003
	TagSummary        = 1004
	TagDescription    = 1005
	TagBuildTime      = 1006
	TagBuildHost      = 1007
	TagInstallTime    = 1008
	TagSize           = 1009
	TagVendor         = 1011
	TagLicense        = 1014
	TagPackager       = 1015
	TagGroup          = 1016
	TagURL            = 1020
	TagArch           = 1022
	TagOldFileNames   = 1027
	TagFileModes      = 1030
	TagFileFlags      = 1037
	TagSourceRPM      = 1044
	TagArchiveSize    = 1046
	TagProvideName    = 1047
	TagRequireFlags   = 1048
	TagRequireName    = 1049
	TagRequireVersion = 1050
	TagConflictFlags  = 1053
	TagConflictName   = 1054
	TagConflictVer    = 1055
	TagChangelogTime  = 1080
	TagChangelogName  = 1081
	TagChangelogText  = 1082
	TagObsoleteName   = 1090
	TagSourcePackage  = 1106
	TagProvideFlags   = 1112
	TagProvideVersion = 1113
	TagObsoleteFlags  = 1114
	TagObsoleteVer    = 1115
	TagDirIndexes     = 1116
	TagBaseNames      = 1117
	TagDirNames       = 1118
	TagOldSuggestName = 1156
	TagOldSuggestVer  = 1157
	TagOldSuggestFlag = 1158
	TagOldEnhanceName = 1159
	TagOldEnhanceVer  = 1160
	TagOldEnhanceFlag = 1161
	TagLongSize       = 5009
	TagVCS            = 5034
	TagRecommendName  = 5046
	TagRecommendVer   = 5047
	TagRecommendFlags = 5048
	TagSuggestName    = 5049
	TagSuggestVer     = 5050
	TagSuggestFlags   = 5051
	TagSupplementName = 5052
	TagSupplementVer  = 5053
	TagSupplementFlag = 5054
	TagEnhanceName    = 5055
	TagEnhanceVer     = 5056
	TagEnhanceFlags   = 5057

	TagPayloadDigest    = 5092
	TagPayloadDigestAlt = 5097
)

// Signature header tags (rpm's RPMSIGTAG_*).
const (
	SigTagDSA             = 267 // OpenPGP signature of the header (DSA, EdDSA)
	SigTagRSA             = 268 // OpenPGP signature of the header (RSA)
	SigTagSHA1            = 269 // hex SHA-1 of the header
	SigTagLongSize        = 270 // header+payload size, 64-bit
	SigTagLongArchiveSize = 271 // uncompressed payload size, 64-bit (also in the main header)
	SigTagSHA256          = 273 // hex SHA-256 of the header

	SigTagSize          = 1000 // header+payload size
	SigTagPGP           = 1002 // RSA OpenPGP signature of header+payload
	SigTagMD5           = 1004 // MD5 of header+payload
	SigTagGPG           = 1005 // DSA/EdDSA OpenPGP signature of header+payload
	SigTagPayloadSize   = 1007 // uncompressed payload size
	SigTagReservedSpace = 1008 // zeros, room for signing in place
)
